/**
 * Keeps a provisioned terminal in step with its acquirer, on the injected clock: a
 * heartbeat every `heartbeatIntervalMs` (version, scanners, queue, dead letters, last
 * error, clock and measured skew); new parameters when the heartbeat names a newer
 * version (validated in full, a bad set refused and reported, the last good one kept);
 * key rotation when the backend asks; and finished transactions uploaded through the
 * outbox. Every step is safe to repeat, so a failed one simply waits for the next beat.
 */
import type { DeviceClient } from './backend/device-client.ts';
import type { Clock } from './clock.ts';
import { isScanpayError, ScanpayError } from './errors.ts';
import type { Journal, OutboxRow } from './journal/journal.ts';
import type { Logger } from './log.ts';
import type { DeliveryResult } from './outbox/outbox-worker.ts';
import { DEFAULT_DEVICE_PARAMS, saveParams, validateParams, type DeviceParams } from './params.ts';
import type { PaymentEngine } from './payment/engine.ts';
import type { ProfileOverrides } from './payment/profiles.ts';
import { newX25519, rotatedKey, x25519, x25519FromPrivate, rawPrivate, type HeartbeatRequest, type JournalMarkReport } from './protocol/device-messages.ts';
import { writeTerminalRecord, type TerminalRecord } from './terminal-store.ts';
import { txRecordOf } from './tx-records.ts';

export const UPLOAD_KIND = 'upload';

/** Beyond this the device warns; beyond the protocol's 5 minutes every message is refused. */
export const SKEW_WARN_MS = 30_000;

export interface HeartbeatResult {
  skewMs: number;
  latencyMs: number;
  paramsVersion: number;
  rotateKey: boolean;
}

export interface DeviceSyncOptions {
  home: string;
  terminal: TerminalRecord;
  client: DeviceClient;
  clock: Clock;
  logger: Logger;
  journal: Journal;
  engine: Pick<PaymentEngine, 'applyPolicy' | 'enqueue' | 'kickOutbox' | 'onChange'>;
  /** Told the new key after a rotation (the payment client). */
  onKey: (key: Buffer) => void;
  scanners: () => Array<{ source: string; status: string }>;
  agentVersion: string;
  /** The last good parameter set, from params.json. */
  params?: DeviceParams | undefined;
  /** Issue 12 (agent/journal-guard.ts): the journal's identity for the backend, and what the backend knew of it. */
  journalMark?: { report(): JournalMarkReport | undefined; backendSaid(known: JournalMarkReport | undefined): void } | undefined;
}

export class DeviceSync {
  readonly #o: DeviceSyncOptions;
  #terminal: TerminalRecord;
  #key: Buffer;
  #params: DeviceParams;
  #rejected: { version: number; reason: string } | undefined;
  #lastError: { code: string; message: string; at: number } | undefined;
  #skewMs: number | undefined;
  #timer: unknown;
  #running = false;
  #beat: Promise<void> | undefined;

  constructor(o: DeviceSyncOptions) {
    this.#o = o;
    this.#terminal = o.terminal;
    this.#key = Buffer.from(o.terminal.key, 'base64');
    this.#params = o.params ?? DEFAULT_DEVICE_PARAMS;
  }

  /** The credentials to sign with now (changes after a rotation). */
  credentials(): { terminalId: string; key: Buffer } {
    return { terminalId: this.#terminal.terminalId, key: this.#key };
  }

  get params(): DeviceParams {
    return this.#params;
  }

  /** Applies the stored parameters, starts uploading finished payments, and beats at once. */
  start(): void {
    this.#running = true;
    this.#apply(this.#params);
    this.#o.engine.onChange((p) => {
      if (!p.outcome) return;
      // One record per state the acquirer should know: the outcome, then each refund total.
      this.#o.engine.enqueue({
        kind: UPLOAD_KIND,
        orderNo: p.orderNo,
        dedupeKey: `${UPLOAD_KIND}:${p.orderNo}:${p.outcome}:${p.refundedAmount}`,
        payload: { orderNo: p.orderNo },
        at: this.#o.clock.now() + this.#params.uploadDelayMs,
      });
    });
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#o.clock.clearTimeout(this.#timer);
    await this.#beat;
  }

  /** One round: heartbeat, then parameters and key rotation if the answer asks. Never throws. */
  tick(): Promise<void> {
    this.#beat = (async () => {
      try {
        const hb = await this.heartbeat();
        if (hb.paramsVersion !== this.#params.version && hb.paramsVersion !== this.#rejected?.version) await this.syncParams();
        if (hb.rotateKey) await this.rotateKey();
      } catch (e) {
        this.#noteError(e);
      }
      // A technician's `scanpay queue retry` from another process lands in the journal only.
      this.#o.engine.kickOutbox();
    })();
    return this.#beat;
  }

  async heartbeat(): Promise<HeartbeatResult> {
    const sentAt = this.#o.clock.now();
    try {
      const { body, latencyMs } = await this.#o.client.call('heartbeat', this.#report(sentAt), this.credentials());
      this.#o.journalMark?.backendSaid(body.journal);
      // The backend stamped its time somewhere in the round trip: compare with the middle.
      const skewMs = Math.round((sentAt + this.#o.clock.now()) / 2 - body.serverTime);
      this.#setSkew(skewMs);
      return { skewMs, latencyMs, paramsVersion: body.paramsVersion, rotateKey: body.rotateKey };
    } catch (e) {
      if (isScanpayError(e, 'PROTO_TIMESTAMP_SKEW') && typeof e.detail?.skewMs === 'number') this.#setSkew(e.detail.skewMs);
      throw e;
    }
  }

  /** Downloads a newer set if there is one; a bad one is refused and the last good one kept. */
  async syncParams(): Promise<DeviceParams> {
    const { body } = await this.#o.client.call('params', { version: this.#params.version }, this.credentials());
    if (body.result === 'UNCHANGED') return this.#params;
    try {
      const p = validateParams(body.params);
      this.#apply(p);
      saveParams(this.#o.home, p);
      this.#params = p;
      this.#rejected = undefined;
      this.#o.logger.info({ version: p.version }, 'new parameters applied');
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      this.#rejected = { version: body.params.version, reason: reason.slice(0, 256) };
      this.#noteError(e);
      this.#o.logger.error({ version: body.params.version, reason, keptVersion: this.#params.version }, 'parameters refused; the last good set stays in use');
    }
    return this.#params;
  }

  /**
   * Gets a new key when the backend asks: an X25519 exchange signed with the current key,
   * so only this device can compute the result. The device's share is on disk before the
   * request leaves, so a lost answer is asked again with the same share and gets the same
   * key; the new key is on disk before it is used. Until it is used, the backend keeps
   * the current key; after, it accepts the old one for a grace window.
   */
  async rotateKey(): Promise<void> {
    const old = this.credentials();
    if (!this.#terminal.rotation) {
      this.#terminal = { ...this.#terminal, rotation: { privateKey: rawPrivate(newX25519().privateKey) } };
      writeTerminalRecord(this.#o.home, this.#terminal);
    }
    const share = x25519FromPrivate(this.#terminal.rotation!.privateKey);
    let key: Buffer;
    let keyVersion: number;
    try {
      const { body } = await this.#o.client.call('rotateKey', { reason: 'backend-request', ephemeralKey: share.publicKey }, old);
      keyVersion = body.keyVersion;
      key = rotatedKey({ currentKey: old.key, sharedSecret: x25519(share.privateKey, body.ephemeralKey), terminalId: old.terminalId, keyVersion, deviceEphemeral: share.publicKey, serverEphemeral: body.ephemeralKey });
    } catch (e) {
      // A refusal is final for this share: the next request starts afresh.
      if (isScanpayError(e, 'BACKEND_HTTP_STATUS') && e.detail?.code === 'PROTO_ROTATION_REFUSED') this.#dropRotation();
      throw new ScanpayError('CONFIG_KEY_ROTATION_FAILED', { message: `key rotation: ${(e as Error).message}`, cause: e });
    }
    const { rotation: _done, ...rest } = this.#terminal;
    this.#terminal = { ...rest, key: key.toString('base64'), keyVersion };
    // On disk before use: after a power cut the device comes back with the key the backend expects.
    writeTerminalRecord(this.#o.home, this.#terminal);
    this.#key = key;
    this.#o.onKey(key);
    this.#o.logger.info({ keyVersion }, 'terminal key rotated');
    // Using the new key tells the backend the rotation is complete.
    await this.heartbeat();
  }

  #dropRotation(): void {
    const { rotation: _dropped, ...rest } = this.#terminal;
    this.#terminal = rest;
    writeTerminalRecord(this.#o.home, this.#terminal);
  }

  /** The outbox's delivery of one finished transaction's record. */
  async deliverUpload(item: OutboxRow): Promise<DeliveryResult> {
    const row = item.order_no ? this.#o.journal.getPayment(item.order_no) : undefined;
    if (!row?.outcome) return { kind: 'dead', error: `no finished payment ${item.order_no} in the journal` };
    try {
      await this.#o.client.call('upload', { records: [txRecordOf(this.#o.journal, row)] }, this.credentials());
      return { kind: 'done' };
    } catch (e) {
      // A record the backend calls malformed will not get better by retrying.
      if (isScanpayError(e, 'BACKEND_HTTP_STATUS') && e.detail?.code === 'PROTO_BAD_REQUEST') return { kind: 'dead', error: e.message };
      return { kind: 'retry', error: `${item.kind}: ${(e as Error).message}` };
    }
  }

  status(): { paramsVersion: number; paramsRejected: { version: number; reason: string } | undefined; skewMs: number | undefined; lastError: { code: string; message: string; at: number } | undefined } {
    return { paramsVersion: this.#params.version, paramsRejected: this.#rejected, skewMs: this.#skewMs, lastError: this.#lastError };
  }

  #report(now: number): HeartbeatRequest {
    const pending = this.#o.journal.outbox('pending');
    return {
      agentVersion: this.#o.agentVersion,
      clock: now,
      paramsVersion: this.#params.version,
      ...(this.#rejected ? { paramsRejected: this.#rejected } : {}),
      scanners: this.#o.scanners().slice(0, 16).map((s) => ({ source: s.source.slice(0, 128), status: s.status })),
      queueDepth: pending.length,
      ...(pending.length ? { oldestQueuedAt: Math.min(...pending.map((p) => p.created_at)) } : {}),
      deadLetters: this.#o.journal.outbox('dead').length,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      ...(this.#skewMs !== undefined ? { skewMs: this.#skewMs } : {}),
      ...(this.#o.journalMark?.report() ? { journal: this.#o.journalMark.report() } : {}),
    };
  }

  #apply(p: DeviceParams): void {
    this.#o.engine.applyPolicy({ profiles: p.profiles as ProfileOverrides, maxAmount: p.maxAmount, enabledWallets: p.enabledWallets });
  }

  #setSkew(skewMs: number): void {
    this.#skewMs = skewMs;
    if (Math.abs(skewMs) > SKEW_WARN_MS) this.#o.logger.warn({ skewMs }, 'device clock differs from the backend: signatures fail beyond 5 minutes; fix NTP');
  }

  #noteError(e: unknown): void {
    const code = isScanpayError(e) ? e.code : 'INTERNAL';
    this.#lastError = { code, message: (e instanceof Error ? e.message : String(e)).slice(0, 256), at: this.#o.clock.now() };
    this.#o.logger.warn({ code, message: this.#lastError.message }, 'device sync step failed');
  }

  #schedule(ms: number): void {
    if (!this.#running) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      void this.tick().then(() => this.#schedule(this.#params.heartbeatIntervalMs));
    }, ms);
  }
}
