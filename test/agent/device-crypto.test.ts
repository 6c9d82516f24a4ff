/**
 * The key exchange primitives of the device operations (agent/protocol/device-messages.ts,
 * docs/protocol.md "Activation" and "Key wrapping"), checked against published vectors and
 * against `openssl kdf` (OpenSSL 3), not against our own code: a device and a backend that
 * derive the same wrong key would agree with each other and with nobody else.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ACTIVATION_KDF, activationSigningKey, codeVerifier, newX25519, rawPrivate, rotatedKey, unwrapKey, wrapKey, x25519, x25519FromPrivate } from '../../agent/protocol/device-messages.ts';

const hex = (s: string) => Buffer.from(s, 'hex');
const fill = (byte: number) => Buffer.alloc(32, byte);
const opensslHex = (s: string) => s.replaceAll(':', '').toLowerCase();

describe('primitives against published vectors', () => {
  it('X25519 matches RFC 7748 section 6.1', () => {
    const alice = x25519FromPrivate(hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a').toString('base64'));
    const bob = x25519FromPrivate(hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb').toString('base64'));
    expect(Buffer.from(alice.publicKey, 'base64').toString('hex')).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(Buffer.from(bob.publicKey, 'base64').toString('hex')).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    expect(x25519(alice.privateKey, bob.publicKey).toString('hex')).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    // The raw private key a device keeps on disk comes back as it went in.
    expect(rawPrivate(alice.privateKey)).toBe(hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a').toString('base64'));
  });

  it('X25519 refuses a low-order public key (all-zero shared secret) and a key that is not 32 bytes', () => {
    // OpenSSL 3 refuses the derivation itself; x25519's own all-zero check backs it up.
    expect(() => x25519(newX25519().privateKey, Buffer.alloc(32).toString('base64'))).toThrow();
    const peer = newX25519();
    expect(() => x25519(newX25519().privateKey, Buffer.from(peer.publicKey, 'base64').subarray(0, 31).toString('base64'))).toThrow(/32 bytes/);
    expect(() => x25519(newX25519().privateKey, Buffer.concat([Buffer.from(peer.publicKey, 'base64'), Buffer.alloc(1)]).toString('base64'))).toThrow(/32 bytes/);
  });

  it('a shared secret that merely contains a zero byte is a good one', () => {
    // About one secret in eight has a zero byte somewhere; only an all-zero one is refused.
    const mine = newX25519();
    let found = 0;
    for (let i = 0; i < 400 && found < 3; i++) {
      const peer = newX25519();
      const shared = x25519(mine.privateKey, peer.publicKey);
      if (shared.includes(0)) {
        found++;
        expect(shared).toEqual(x25519(peer.privateKey, mine.publicKey));
      }
    }
    expect(found).toBe(3);
  });

  it('new pairs travel as 32 raw bytes and agree both ways', () => {
    const a = newX25519();
    const b = newX25519();
    expect(Buffer.from(a.publicKey, 'base64')).toHaveLength(32);
    expect(x25519FromPrivate(rawPrivate(a.privateKey)).publicKey).toBe(a.publicKey);
    expect(x25519(a.privateKey, b.publicKey)).toEqual(x25519(b.privateKey, a.publicKey));
  });

  it('the code verifier is scrypt as RFC 7914 section 12 gives it (and `openssl kdf SCRYPT`)', () => {
    expect(codeVerifier('password', Buffer.from('NaCl'), { N: 1024, r: 8, p: 16 }).toString('hex')).toBe('fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162');
    // openssl kdf -keylen 32 -kdfopt pass:K7QP-3MZD-W2XH-R8TN -kdfopt salt:NaCl -kdfopt n:16384 -kdfopt r:8 -kdfopt p:2 SCRYPT
    expect(codeVerifier('K7QP-3MZD-W2XH-R8TN', Buffer.from('NaCl'), { N: 2 ** 14, r: 8, p: 2 }).toString('hex')).toBe(opensslHex('60:F5:6E:EE:BE:BC:29:87:0A:0A:73:FA:58:C9:D9:6F:72:CC:11:15:B8:3D:6C:24:9E:A5:BE:93:C6:75:99:38'));
    // The bounds a hello may ask for: the smallest (RFC 7914's first vector, the first 32 of its 64 bytes) and the most parallel.
    expect(codeVerifier('', Buffer.alloc(0), { N: 16, r: 1, p: 1 }).toString('hex')).toBe('77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442');
    // openssl kdf -keylen 32 -kdfopt pass:K7QP-3MZD-W2XH-R8TN -kdfopt salt:NaCl -kdfopt n:16384 -kdfopt r:8 -kdfopt p:4 SCRYPT
    expect(codeVerifier('K7QP-3MZD-W2XH-R8TN', Buffer.from('NaCl'), { N: 2 ** 14, r: 8, p: 4 }).toString('hex')).toBe(opensslHex('C9:D3:8B:FF:A2:57:21:C3:6B:68:7A:2D:FB:2D:8B:E8:1C:2A:73:F1:E8:07:50:83:EF:AD:6B:20:72:0F:17:F4'));
  });

  it('by default the verifier uses the documented parameters, N = 2^15, r = 8, p = 1', () => {
    expect(ACTIVATION_KDF).toEqual({ N: 2 ** 15, r: 8, p: 1 });
    // openssl kdf -keylen 32 -kdfopt pass:K7QP-3MZD-W2XH-R8TN -kdfopt salt:NaCl -kdfopt n:32768 -kdfopt r:8 -kdfopt p:1 SCRYPT
    expect(codeVerifier('K7QP-3MZD-W2XH-R8TN', Buffer.from('NaCl')).toString('hex')).toBe(opensslHex('D4:39:4A:4C:B9:B5:DE:BE:5B:41:69:C6:7D:0F:5B:EF:95:B3:98:2C:F9:0B:ED:AD:30:A7:CC:D7:8E:DC:65:F3'));
  });
});

describe('key derivation as docs/protocol.md writes it (vectors from `openssl kdf HKDF`)', () => {
  it('the activation key: HKDF-SHA256 over both X25519 secrets, salted with the verifier, info naming the exchange', () => {
    // openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:01…01 02…02 -kdfopt hexsalt:03…03 -kdfopt info:'scanpay-activation-v2|S-a…a|E1|D1|S1' HKDF
    const key = activationSigningKey({ ephemeralSecret: fill(1), deviceSecret: fill(2), verifier: fill(3), activationId: `S-${'a'.repeat(32)}`, deviceEphemeral: 'E1', deviceKey: 'D1', serverEphemeral: 'S1' });
    expect(key.toString('hex')).toBe(opensslHex('F1:0C:91:FC:73:40:D2:63:07:7E:7A:7E:FB:69:26:34:C3:30:7D:ED:B1:3C:5D:F3:1A:19:E4:D9:3A:F9:4B:CB'));
  });

  it('the rotated key: HKDF-SHA256 over the exchange secret, salted with the current key, info naming terminal and version', () => {
    // openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:04…04 -kdfopt hexsalt:05…05 -kdfopt info:'scanpay-rotate-v2|T-1|2|E2|S2' HKDF
    const key = rotatedKey({ sharedSecret: fill(4), currentKey: fill(5), terminalId: 'T-1', keyVersion: 2, deviceEphemeral: 'E2', serverEphemeral: 'S2' });
    expect(key.toString('hex')).toBe(opensslHex('CA:75:B5:3D:8C:53:25:AD:89:2B:39:6B:02:19:62:4C:FF:D6:2F:8D:5F:B6:A2:68:FA:8C:1E:DC:0F:DE:1F:DD'));
  });

  // openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:06…06 -kdfopt info:scanpay-key-wrap HKDF
  const WRAP_KEY = hex(opensslHex('F9:AF:FC:44:20:E2:E2:61:BB:C2:7E:56:73:6D:C8:AC:E5:FA:95:65:BD:CB:88:60:2C:15:01:0D:B2:EE:3D:8A'));

  it('a wrapped key is base64 of iv (12) | GCM tag (16) | ciphertext, under HKDF(key, "scanpay-key-wrap")', () => {
    const terminalKey = fill(8);
    const raw = Buffer.from(wrapKey(terminalKey, fill(6)), 'base64');
    expect(raw).toHaveLength(12 + 16 + 32);
    const d = createDecipheriv('aes-256-gcm', WRAP_KEY, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    expect(Buffer.concat([d.update(raw.subarray(28)), d.final()])).toEqual(terminalKey);
    // Each wrap draws a fresh iv.
    expect(wrapKey(terminalKey, fill(6))).not.toBe(wrapKey(terminalKey, fill(6)));
  });

  it('unwraps what a backend wrapped that way, and refuses a tampered or wrongly keyed one', () => {
    const iv = Buffer.alloc(12, 7);
    const c = createCipheriv('aes-256-gcm', WRAP_KEY, iv);
    const body = Buffer.concat([c.update(fill(9)), c.final()]);
    const wrapped = Buffer.concat([iv, c.getAuthTag(), body]);
    expect(unwrapKey(wrapped.toString('base64'), fill(6))).toEqual(fill(9));
    const tampered = Buffer.from(wrapped);
    tampered[40]! ^= 1;
    expect(() => unwrapKey(tampered.toString('base64'), fill(6))).toThrow();
    expect(() => unwrapKey(wrapped.toString('base64'), fill(5))).toThrow();
  });
});
