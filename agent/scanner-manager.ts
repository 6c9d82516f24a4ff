/**
 * Owns the configured scanner sources and turns what they send into clean scans: it drops
 * repeats of a code within a window (scanners in continuous mode send the same code many
 * times a second), rejects frames that are too long or carry control characters (logged
 * masked, reported as SCAN_… errors), and reopens a source that went away, with backoff,
 * reporting status all the while. It makes no payment decisions.
 */
import type { Feedback, ScanEvent, ScannerSource, SourceStatus, StatusEvent } from '../drivers/source.ts';
import { Emitter } from '../drivers/source.ts';
import type { Clock } from './clock.ts';
import { ScanpayError, isScanpayError } from './errors.ts';
import type { Logger } from './log.ts';
import { maskCode } from './payment-code.ts';

export interface ScannerManagerOptions {
  /** A code seen again within this long of its last sighting is a repeat. */
  dedupeWindowMs: number;
  /** Longest accepted code in characters; payment codes are under 40, product barcodes under 50. */
  maxLength: number;
  reconnect: { initialMs: number; maxMs: number; factor: number };
}

export const DEFAULTS: ScannerManagerOptions = {
  dedupeWindowMs: 1500,
  maxLength: 512,
  reconnect: { initialMs: 500, maxMs: 30_000, factor: 2 },
};

export interface ManagerStatus extends StatusEvent {
  /** When the manager will next try to open the source, if it will. */
  retryAt?: number;
}

export interface ScanRejected {
  source: string;
  error: ScanpayError;
}

export interface ManagerEvents {
  scan: ScanEvent;
  status: ManagerStatus;
  rejected: ScanRejected;
}

// C0 and C1 controls and DEL; what survives is printable text a wallet code or barcode can hold.
// GS (0x1d) is data, not noise: it separates the fields of GS1 codes (wedge scanners type it as Alt+0029).
const CONTROL = /[\u0000-\u001c\u001e\u001f\u007f-\u009f]/;
// Stray terminators around a frame are a scanner set to CRLF read as CR, not a bad code.
const EDGE_WHITESPACE = /^[\r\n\t ]+|[\r\n\t ]+$/g;

interface Managed {
  source: ScannerSource;
  status: SourceStatus | 'closed';
  attempts: number;
  timer: unknown;
  unsubscribe: Array<() => void>;
}

export class ScannerManager {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #options: ScannerManagerOptions;
  readonly #events = new Emitter<ManagerEvents>();
  readonly #managed = new Map<string, Managed>();
  /** Last time each code was seen, whatever the source: the same phone at two lanes is one customer. */
  readonly #lastSeen = new Map<string, number>();
  #running = false;

  constructor(deps: { sources: ScannerSource[]; clock: Clock; logger: Logger; options?: Partial<ScannerManagerOptions> }) {
    this.#clock = deps.clock;
    this.#log = deps.logger;
    this.#options = { ...DEFAULTS, ...deps.options, reconnect: { ...DEFAULTS.reconnect, ...deps.options?.reconnect } };
    for (const source of deps.sources) {
      if (this.#managed.has(source.id)) throw new ScanpayError('CONFIG_INVALID', { message: `scanner source ${source.id} is configured twice` });
      this.#managed.set(source.id, { source, status: 'closed', attempts: 0, timer: undefined, unsubscribe: [] });
    }
  }

  on<K extends keyof ManagerEvents>(event: K, listener: (e: ManagerEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Opens every source; one that fails is retried in the background, so start never rejects for a missing scanner. */
  async start(): Promise<void> {
    this.#running = true;
    await Promise.all([...this.#managed.values()].map((m) => this.#subscribeAndOpen(m)));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(
      [...this.#managed.values()].map(async (m) => {
        this.#clock.clearTimeout(m.timer);
        m.timer = undefined;
        for (const off of m.unsubscribe.splice(0)) off();
        m.status = 'closed';
        await m.source.close();
      }),
    );
  }

  statuses(): Array<{ source: string; status: SourceStatus | 'closed' }> {
    return [...this.#managed.values()].map((m) => ({ source: m.source.id, status: m.status }));
  }

  async feedback(sourceId: string, kind: Feedback): Promise<boolean> {
    const m = this.#managed.get(sourceId);
    if (!m || m.status !== 'connected') return false;
    try {
      return await m.source.feedback(kind);
    } catch (e) {
      this.#log.warn({ source: sourceId, err: e }, 'scanner feedback failed');
      return false;
    }
  }

  async #subscribeAndOpen(m: Managed): Promise<void> {
    m.unsubscribe.push(
      m.source.on('scan', (e) => this.#onScan(e)),
      m.source.on('status', (e) => this.#onStatus(m, e)),
    );
    await this.#open(m);
  }

  async #open(m: Managed): Promise<void> {
    m.timer = undefined;
    try {
      await m.source.open();
      m.attempts = 0;
      // stop() ran while the device was opening: do not leave it open behind the caller's back.
      if (!this.#running) await m.source.close();
    } catch (e) {
      if (!this.#running) return;
      const error = isScanpayError(e) ? e : new ScanpayError('SCAN_DEVICE_IO', { message: `${m.source.id}: ${e instanceof Error ? e.message : String(e)}`, cause: e });
      // A missing library or a missing udev rule does not fix itself, but a technician may
      // fix it while the agent runs; keep trying at the slowest pace instead of giving up.
      const retryAt = this.#scheduleReopen(m, !error.retryable);
      this.#report(m, { source: m.source.id, status: 'error', at: this.#clock.now(), error, ...(retryAt ? { retryAt } : {}) });
    }
  }

  #onStatus(m: Managed, e: StatusEvent): void {
    if (!this.#running) return;
    if (e.status === 'disconnected' && !e.ended) {
      const retryAt = this.#scheduleReopen(m, false);
      this.#report(m, { ...e, ...(retryAt ? { retryAt } : {}) });
      return;
    }
    if (e.status === 'error' && e.error && (e.error.code.startsWith('SCAN_FRAME_') || e.error.code === 'SCAN_IMAGE_UNREADABLE')) {
      // A bad frame reported by the driver itself: skip it, the link is fine.
      this.#reject(e.source, e.error);
      return;
    }
    this.#report(m, e);
  }

  #report(m: Managed, e: ManagerStatus): void {
    if (e.status !== 'error' || m.status !== 'connected') m.status = e.status;
    const fields = { source: e.source, status: e.status, ...(e.error ? { errorCode: e.error.code, reason: e.error.message } : {}), ...(e.retryAt ? { retryAt: new Date(e.retryAt).toISOString() } : {}) };
    if (e.status === 'connected') this.#log.info(fields, 'scanner connected');
    else this.#log.warn(fields, e.ended ? 'scanner input ended' : `scanner ${e.status}`);
    this.#events.emit('status', e);
  }

  /** Returns when the next attempt is due, or undefined when the manager is stopping. */
  #scheduleReopen(m: Managed, slowest: boolean): number | undefined {
    if (!this.#running) return undefined;
    this.#clock.clearTimeout(m.timer);
    const { initialMs, maxMs, factor } = this.#options.reconnect;
    const delay = slowest ? maxMs : Math.min(maxMs, initialMs * factor ** m.attempts);
    m.attempts++;
    m.timer = this.#clock.setTimeout(() => void this.#open(m), delay);
    return this.#clock.now() + delay;
  }

  #onScan(e: ScanEvent): void {
    if (!this.#running) return;
    const text = e.text.replace(EDGE_WHITESPACE, '');
    if (text.length === 0) return;
    const problem = this.#validate(text, e);
    if (problem) {
      this.#reject(e.source, problem);
      return;
    }
    const last = this.#lastSeen.get(text);
    this.#lastSeen.set(text, e.at);
    this.#forgetOld(e.at);
    if (last !== undefined && e.at - last < this.#options.dedupeWindowMs) return;
    this.#events.emit('scan', { ...e, text });
  }

  #validate(text: string, e: ScanEvent): ScanpayError | undefined {
    const masked = maskCode(text.replace(new RegExp(CONTROL, 'g'), '?'));
    if (text.length > this.#options.maxLength) {
      return new ScanpayError('SCAN_FRAME_TOO_LONG', {
        message: `scan of ${text.length} characters exceeds the limit of ${this.#options.maxLength}: skipped`,
        detail: { source: e.source, length: text.length, scan: masked, rawBytes: e.raw.length },
      });
    }
    const replaced = text.indexOf('\ufffd');
    if (replaced >= 0) {
      // U+FFFD is what a lossy decoder leaves where bytes were not text: the code is not the one scanned.
      return new ScanpayError('SCAN_FRAME_INVALID', {
        message: `scan contains a replacement character (U+FFFD) at position ${replaced}, left by bytes that were not text: skipped`,
        detail: { source: e.source, length: text.length, scan: masked },
      });
    }
    const control = CONTROL.exec(text);
    if (control) {
      const hex = control[0].charCodeAt(0).toString(16).padStart(2, '0');
      return new ScanpayError('SCAN_FRAME_INVALID', {
        message: `scan contains control character 0x${hex} at position ${control.index}: skipped (check the scanner's terminator and framing settings)`,
        detail: { source: e.source, length: text.length, scan: masked },
      });
    }
    return undefined;
  }

  #reject(source: string, error: ScanpayError): void {
    this.#log.warn({ source, errorCode: error.code, ...error.detail }, error.message);
    this.#events.emit('rejected', { source, error });
  }

  #forgetOld(now: number): void {
    for (const [code, at] of this.#lastSeen) if (now - at >= this.#options.dedupeWindowMs) this.#lastSeen.delete(code);
  }
}
