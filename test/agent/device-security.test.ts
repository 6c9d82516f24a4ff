/**
 * Issue 17, device management: key rotation, revocation, activation codes and the
 * activation exchange, tried as an attacker holding a copy of the terminal key or a
 * recording of the network would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceClient, type Credentials } from '../../agent/backend/device-client.ts';
import { ManualClock } from '../../agent/clock.ts';
import { provision } from '../../agent/provision.ts';
import { DeviceSync } from '../../agent/device-sync.ts';
import { silentLogger } from '../../agent/log.ts';
import {
  activateHelloResponse,
  activationSigningKey,
  codeIdOf,
  codeVerifier,
  newX25519,
  rawPrivate,
  rotatedKey,
  unwrapKey,
  x25519,
  type X25519Pair,
} from '../../agent/protocol/device-messages.ts';
import { readTerminalRecord, writeTerminalRecord } from '../../agent/terminal-store.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';
import { createDeviceRig, type DeviceRig } from '../support/device-rig.ts';

// The primitives' published and openssl vectors: test/agent/device-crypto.test.ts.

describe('key rotation', () => {
  let rig: DeviceRig;
  beforeEach(async () => {
    rig = await createDeviceRig();
  });
  afterEach(async () => {
    await rig.close();
  });

  const thief = (creds: Credentials) => new DeviceClient({ baseUrl: rig.backend.url, clock: rig.clock, credentials: () => creds });
  const rotateAs = (creds: Credentials) => thief(creds).call('rotateKey', { reason: 'backend-request', ephemeralKey: newX25519().publicKey });
  const status = () => rig.backend.sim.device.terminals().find((t) => t.terminalId === rig.sync.credentials().terminalId)!;
  const refusedRotation = { code: 'BACKEND_HTTP_STATUS', detail: { status: 403, code: 'PROTO_ROTATION_REFUSED' } };

  it('a thief with a rotated-out key (inside its grace window) cannot get a newer key: the device keeps working', async () => {
    const stolen = rig.sync.credentials();
    rig.backend.sim.device.requestRotation(stolen.terminalId);
    await rig.sync.tick();
    expect(readTerminalRecord(rig.home)!.keyVersion).toBe(2);
    // Still inside the 10-minute grace window: the old key is accepted for traffic in flight...
    await expect(thief(stolen).call('params', { version: 0 })).resolves.toBeDefined();
    // ...but not for a new key, even when the backend asks for another rotation.
    await expect(rotateAs(stolen)).rejects.toMatchObject(refusedRotation);
    rig.backend.sim.device.requestRotation(stolen.terminalId);
    await expect(rotateAs(stolen)).rejects.toMatchObject(refusedRotation);
    await expect(rig.sync.heartbeat()).resolves.toMatchObject({ rotateKey: true });
  });

  it('the current key alone gets no new key unless the backend asked for a rotation', async () => {
    await expect(rotateAs(rig.sync.credentials())).rejects.toMatchObject(refusedRotation);
    expect(status()).toMatchObject({ keyVersion: 1 });
  });

  it('the new key is bound to the device share: a copy of the current key plus the recorded exchange does not sign', async () => {
    const copy = rig.sync.credentials();
    rig.backend.sim.device.requestRotation(copy.terminalId);
    // The exchange as the network sees it: the device's share out, the backend's share back.
    const device = newX25519();
    const { body } = await thief(copy).call('rotateKey', { reason: 'backend-request', ephemeralKey: device.publicKey });
    const derive = (secret: Buffer) => rotatedKey({ currentKey: copy.key, sharedSecret: secret, terminalId: copy.terminalId, keyVersion: body.keyVersion, deviceEphemeral: device.publicKey, serverEphemeral: body.ephemeralKey });
    // The thief has the current key and the recording, but not the device's private share.
    const guessed = derive(x25519(newX25519().privateKey, body.ephemeralKey));
    await expect(thief({ terminalId: copy.terminalId, key: guessed }).call('params', { version: 0 })).rejects.toMatchObject({ detail: { status: 401 } });
    // The device can.
    await expect(thief({ terminalId: copy.terminalId, key: derive(x25519(device.privateKey, body.ephemeralKey)) }).call('params', { version: 0 })).resolves.toBeDefined();
  });

  it('a second share for the same rotation (a copied key racing the device) is refused and flagged for the acquirer', async () => {
    const creds = rig.sync.credentials();
    rig.backend.sim.device.requestRotation(creds.terminalId);
    // The device's request leaves first; its answer is lost (the device saved its share first).
    const share = newX25519();
    const first = await thief(creds).call('rotateKey', { reason: 'backend-request', ephemeralKey: share.publicKey });
    await expect(rotateAs(creds)).rejects.toMatchObject(refusedRotation);
    expect(status()).toMatchObject({ compromiseSuspected: true });
    // The same share again (the lost answer asked anew) gets the same answer.
    const again = await thief(creds).call('rotateKey', { reason: 'backend-request', ephemeralKey: share.publicKey });
    expect(again.body).toEqual(first.body);
  });

  it('a lost rotation answer and a restart: the device asks again with its saved share and ends on the key the backend made', async () => {
    const creds = rig.sync.credentials();
    rig.backend.sim.device.requestRotation(creds.terminalId);
    // What rotateKey does before sending: the share goes to disk. Then the request lands and its answer is lost.
    const share = newX25519();
    writeTerminalRecord(rig.home, { ...readTerminalRecord(rig.home)!, rotation: { privateKey: rawPrivate(share.privateKey) } });
    await thief(creds).call('rotateKey', { reason: 'backend-request', ephemeralKey: share.publicKey });
    const restarted: DeviceSync = new DeviceSync({
      home: rig.home,
      terminal: readTerminalRecord(rig.home)!,
      client: new DeviceClient({ baseUrl: rig.backend.url, clock: rig.clock, credentials: () => restarted.credentials() }),
      clock: rig.clock,
      logger: silentLogger,
      journal: rig.journal,
      engine: rig.engine,
      onKey: () => {},
      scanners: () => [],
      agentVersion: 'test',
    });
    await expect(restarted.heartbeat()).resolves.toMatchObject({ rotateKey: true });
    await restarted.rotateKey();
    expect(status()).toMatchObject({ keyVersion: 2, compromiseSuspected: false });
    expect(readTerminalRecord(rig.home)).toMatchObject({ keyVersion: 2 });
    expect(readTerminalRecord(rig.home)!.rotation).toBeUndefined();
    await expect(restarted.heartbeat()).resolves.toMatchObject({ rotateKey: false });
  });

  it('the acquirer can end the grace window at once: the rotated-out key stops, the device carries on', async () => {
    const stolen = rig.sync.credentials();
    rig.backend.sim.device.requestRotation(stolen.terminalId);
    await rig.sync.tick();
    await expect(thief(stolen).call('params', { version: 0 })).resolves.toBeDefined();
    const res = await fetch(`${rig.backend.url}/control/terminals/${stolen.terminalId}/revoke-old-keys`, { method: 'POST' });
    expect(await res.json()).toEqual({ revoked: 1 });
    await expect(thief(stolen).call('params', { version: 0 })).rejects.toMatchObject({ detail: { status: 401 } });
    await expect(rig.sync.heartbeat()).resolves.toMatchObject({ rotateKey: false });
  });

  it('revocation: every key stops at once (no grace), and a re-activation brings the same terminal back on this device', async () => {
    const creds = rig.sync.credentials();
    rig.backend.sim.device.requestRotation(creds.terminalId);
    await rig.sync.tick();
    const { code } = rig.backend.sim.device.revoke(creds.terminalId);
    await expect(rig.sync.heartbeat()).rejects.toMatchObject({ detail: { status: 401, code: 'PROTO_UNKNOWN_TERMINAL' } });
    await expect(thief(creds).call('params', { version: 0 })).rejects.toMatchObject({ detail: { status: 401 } });
    expect(status()).toMatchObject({ revoked: true });
    const r = await provision({ home: rig.home, backendUrl: rig.backend.url, activationCode: code, clock: rig.clock, force: true });
    expect(r).toMatchObject({ terminalId: creds.terminalId, activated: true });
    expect(status()).toMatchObject({ revoked: false, keyVersion: 3 });
    // The stolen keys stay dead.
    await expect(thief(creds).call('params', { version: 0 })).rejects.toMatchObject({ detail: { status: 401 } });
  });
});

describe('activation codes and the activation exchange', () => {
  let backend: RunningBackend;
  let clock: ManualClock;
  const homes: string[] = [];
  const newHome = () => {
    const h = mkdtempSync(join(tmpdir(), 'scanpay-activation-'));
    homes.push(h);
    return h;
  };
  beforeEach(async () => {
    clock = new ManualClock(Date.now());
    backend = await startBackend({ clock });
  });
  afterEach(async () => {
    await backend.close();
    for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
  });

  it('a code activates one device: a second device with the same code is refused, before and after the key is used', async () => {
    const { code } = backend.sim.device.issueActivationCode();
    const first = await provision({ home: newHome(), backendUrl: backend.url, activationCode: code, clock });
    expect(first.activated).toBe(true);
    // provision's heartbeat used the issued key: the code is consumed.
    await expect(provision({ home: newHome(), backendUrl: backend.url, activationCode: code, clock })).rejects.toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED' });
  });

  /** Both activation steps as a device with `deviceKey` makes them; the issued key is not used. */
  async function activateAs(code: string, deviceKey: X25519Pair): Promise<{ terminalId: string; key: Buffer }> {
    const client = new DeviceClient({ baseUrl: backend.url, clock, credentials: () => ({ terminalId: 'x', key: Buffer.alloc(32) }) });
    const ephemeral = newX25519();
    const hello = await client.hello({ codeId: codeIdOf(code), ephemeralKey: ephemeral.publicKey, deviceKey: deviceKey.publicKey });
    const key = activationSigningKey({
      verifier: codeVerifier(code, Buffer.from(hello.salt, 'base64'), hello.kdf),
      ephemeralSecret: x25519(ephemeral.privateKey, hello.serverEphemeral),
      deviceSecret: x25519(deviceKey.privateKey, hello.serverEphemeral),
      activationId: hello.activationId,
      deviceEphemeral: ephemeral.publicKey,
      deviceKey: deviceKey.publicKey,
      serverEphemeral: hello.serverEphemeral,
    });
    const { body } = await client.call('activate', { deviceName: 't', agentVersion: 't' }, { terminalId: hello.activationId, key });
    return { terminalId: body.terminalId, key: unwrapKey(body.wrappedKey, key) };
  }

  it('until its key is used, a code re-activates only the device that first used it; then it is spent', async () => {
    const { code } = backend.sim.device.issueActivationCode();
    const mine = newX25519();
    const first = await activateAs(code, mine);
    // The answer was lost: the same device asks again and gets the same identity.
    expect(await activateAs(code, mine)).toEqual(first);
    // Another device (its own device key) is refused.
    await expect(activateAs(code, newX25519())).rejects.toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED' });
    // Claiming to be the first device without its private key: the signature does not verify.
    const impostor = { privateKey: newX25519().privateKey, publicKey: mine.publicKey };
    await expect(activateAs(code, impostor)).rejects.toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED' });
    // The first use of the key spends the code.
    const used = new DeviceClient({ baseUrl: backend.url, clock, credentials: () => first });
    await used.call('params', { version: 0 });
    await expect(activateAs(code, mine)).rejects.toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED' });
  });

  it('a hello whose scrypt parameters are weakened (a forged answer) is refused by the device', () => {
    expect(activateHelloResponse.safeParse({ result: 'HELLO', activationId: `S-${'0'.repeat(32)}`, serverEphemeral: newX25519().publicKey, salt: 'AAAA', kdf: { N: 2, r: 8, p: 1 } }).success).toBe(false);
  });

  it('codes live an hour', async () => {
    const { code, expiresAt } = backend.sim.device.issueActivationCode();
    expect(expiresAt - clock.now()).toBeLessThanOrEqual(3600_000);
    clock.advance(3600_000 + 1);
    await expect(provision({ home: newHome(), backendUrl: backend.url, activationCode: code, clock })).rejects.toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED' });
  });

  it('the activation id is server-random: two exchanges for one code share nothing derived from the code', async () => {
    const { code } = backend.sim.device.issueActivationCode();
    const device = new DeviceClient({ baseUrl: backend.url, clock, credentials: () => ({ terminalId: 'x', key: Buffer.alloc(32) }) });
    const deviceKey = newX25519().publicKey;
    const a = await device.hello({ codeId: codeIdOf(code), ephemeralKey: newX25519().publicKey, deviceKey });
    const b = await device.hello({ codeId: codeIdOf(code), ephemeralKey: newX25519().publicKey, deviceKey });
    expect(a.activationId).not.toBe(b.activationId);
    expect(a.serverEphemeral).not.toBe(b.serverEphemeral);
    // The only code-derived value on the wire is the locator, which is no part of the secret's entropy.
    expect(a.activationId).not.toContain(codeIdOf(code));
    expect(a.kdf.N).toBeGreaterThanOrEqual(2 ** 15);
  });

  it('five wrong guesses burn the code (online guessing), and the right code is then refused too', async () => {
    const { code } = backend.sim.device.issueActivationCode();
    const wrong = `${codeIdOf(code)}-AAAA-BBBB-CCCC`;
    for (let i = 0; i < 5; i++) {
      await expect(provision({ home: newHome(), backendUrl: backend.url, activationCode: wrong, clock })).rejects.toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED' });
    }
    await expect(provision({ home: newHome(), backendUrl: backend.url, activationCode: code, clock })).rejects.toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED' });
  });
});
