/**
 * A scanner the simulator and tests drive by hand, over the same interface as the real
 * drivers: `scan` a code, `sendRaw` a frame as a faulty scanner would, `unplug` and `plug`
 * it to exercise reconnection. Feedback it is asked for is kept in `feedbackGiven`.
 */
import type { Clock } from '../agent/clock.ts';
import { ScanpayError } from '../agent/errors.ts';
import { Emitter, type Feedback, type ScannerSource, type SourceEvents, type Symbology } from './source.ts';

export class VirtualSource implements ScannerSource {
  readonly id: string;
  readonly feedbackGiven: Feedback[] = [];
  readonly #clock: Clock;
  readonly #events = new Emitter<SourceEvents>();
  #open = false;
  #plugged = true;
  /** How many times `open` was called, successful or not. */
  opens = 0;

  constructor(id: string, deps: { clock: Clock }) {
    this.id = id;
    this.#clock = deps.clock;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  on<K extends keyof SourceEvents>(event: K, listener: (e: SourceEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async open(): Promise<void> {
    this.opens++;
    if (!this.#plugged) throw new ScanpayError('SCAN_DEVICE_NOT_FOUND', { message: `virtual scanner ${this.id} is unplugged`, detail: { source: this.id } });
    if (this.#open) return;
    this.#open = true;
    this.#events.emit('status', { source: this.id, status: 'connected', at: this.#clock.now() });
  }

  async close(): Promise<void> {
    this.#open = false;
  }

  async feedback(kind: Feedback): Promise<boolean> {
    if (!this.#open) return false;
    this.feedbackGiven.push(kind);
    return true;
  }

  /** A clean scan, as a well-configured scanner delivers it. Ignored while closed, like a real device. */
  scan(text: string, symbology?: Symbology): void {
    this.sendRaw(Buffer.from(text, 'utf8'), symbology);
  }

  /** Any bytes as one frame: for garbage, over-long frames and control characters. */
  sendRaw(raw: Buffer, symbology?: Symbology): void {
    if (!this.#open) return;
    this.#events.emit('scan', { text: raw.toString('utf8'), symbology, source: this.id, at: this.#clock.now(), raw });
  }

  unplug(): void {
    this.#plugged = false;
    if (!this.#open) return;
    this.#open = false;
    this.#events.emit('status', {
      source: this.id,
      status: 'disconnected',
      at: this.#clock.now(),
      error: new ScanpayError('SCAN_DEVICE_DISCONNECTED', { message: `virtual scanner ${this.id} was unplugged`, detail: { source: this.id } }),
    });
  }

  plug(): void {
    this.#plugged = true;
  }
}
