/**
 * A serial scanner (RS-232, or USB CDC showing up as /dev/ttyACM*): opens the port, frames
 * the byte stream, strips the configured prefix, suffix and AIM identifier, and writes the
 * configured byte strings for good/bad feedback.
 */
import type { Clock } from '../../agent/clock.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { stripAim } from '../aim.ts';
import { Emitter, type Feedback, type ScannerSource, type SourceEvents } from '../source.ts';
import { scanText } from '../scan-text.ts';
import { Framer, type FrameResult, type Terminator } from './framer.ts';
import {
  listSerialPorts,
  openSerialPort,
  serialUdevRule,
  type ListSerial,
  type OpenSerial,
  type SerialLink,
  type SerialOpenOptions,
} from './serial-port.ts';

export interface SerialSourceOptions extends Omit<SerialOpenOptions, 'path'> {
  id: string;
  /** Either a device path or a USB vendor/product id (lowercase hex) to look up. */
  port: { path: string } | { vendorId: string; productId: string };
  terminator: Terminator;
  idleMs?: number | undefined;
  prefix?: string | undefined;
  suffix?: string | undefined;
  aim: boolean;
  feedback: Partial<Record<Feedback, Buffer>>;
  maxFrameBytes: number;
}

export interface SerialDeps {
  clock: Clock;
  open?: OpenSerial;
  list?: ListSerial;
}

export class SerialSource implements ScannerSource {
  readonly id: string;
  readonly #options: SerialSourceOptions;
  readonly #clock: Clock;
  readonly #open: OpenSerial;
  readonly #list: ListSerial;
  readonly #events = new Emitter<SourceEvents>();
  #link: SerialLink | undefined;
  #framer: Framer | undefined;

  constructor(options: SerialSourceOptions, deps: SerialDeps) {
    this.id = options.id;
    this.#options = options;
    this.#clock = deps.clock;
    this.#open = deps.open ?? openSerialPort;
    this.#list = deps.list ?? listSerialPorts;
  }

  on<K extends keyof SourceEvents>(event: K, listener: (e: SourceEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async open(): Promise<void> {
    if (this.#link) return;
    const { port, baudRate, dataBits, parity, stopBits } = this.#options;
    const path = 'path' in port ? port.path : await this.#findUsb(port.vendorId, port.productId);
    const link = await this.#open({ path, baudRate, dataBits, parity, stopBits });
    const framer = new Framer(
      { terminator: this.#options.terminator, idleMs: this.#options.idleMs, maxBytes: this.#options.maxFrameBytes },
      this.#clock,
      (result) => this.#handle(result),
    );
    link.onData((chunk) => framer.push(chunk));
    link.onLost((error) => {
      if (this.#link !== link) return;
      this.#dropPartial(framer);
      this.#link = undefined;
      this.#framer = undefined;
      // An error event may leave the port half open; release it so the reopen gets the device.
      void link.close().catch(() => undefined);
      this.#events.emit('status', { source: this.id, status: 'disconnected', at: this.#clock.now(), error });
    });
    this.#link = link;
    this.#framer = framer;
    this.#events.emit('status', { source: this.id, status: 'connected', at: this.#clock.now() });
  }

  async close(): Promise<void> {
    const link = this.#link;
    this.#link = undefined;
    this.#framer?.discard();
    this.#framer = undefined;
    await link?.close();
  }

  async feedback(kind: Feedback): Promise<boolean> {
    const bytes = this.#options.feedback[kind];
    if (!bytes || !this.#link) return false;
    await this.#link.write(bytes);
    return true;
  }

  async #findUsb(vendorId: string, productId: string): Promise<string> {
    const match = (await this.#list()).find((p) => p.vendorId === vendorId && p.productId === productId);
    if (!match) {
      throw new ScanpayError('SCAN_DEVICE_NOT_FOUND', {
        message: `no serial port with USB id ${vendorId}:${productId}: is the scanner plugged in and in serial (CDC) mode? If lsusb shows it, a udev rule may be missing: ${serialUdevRule(vendorId, productId)}`,
        detail: { vendorId, productId },
      });
    }
    return match.path;
  }

  /** A code cut off by the unplugged cable is reported, never passed on shortened. */
  #dropPartial(framer: Framer): void {
    const dropped = framer.discard();
    if (dropped === 0) return;
    const error = new ScanpayError('SCAN_FRAME_INCOMPLETE', {
      message: `the scanner went away in the middle of a code (${dropped} bytes dropped): scan it again`,
      detail: { bytes: dropped },
    });
    this.#events.emit('status', { source: this.id, status: 'error', at: this.#clock.now(), error });
  }

  #handle(result: FrameResult): void {
    const text = 'error' in result ? result.error : scanText(result.frame);
    if (typeof text === 'string' && 'frame' in result) return this.#emitFrame(text, result.frame);
    if (typeof text !== 'string') this.#events.emit('status', { source: this.id, status: 'error', at: this.#clock.now(), error: text });
  }

  #emitFrame(decoded: string, raw: Buffer): void {
    let text = decoded;
    const { prefix, suffix, aim } = this.#options;
    if (prefix && text.startsWith(prefix)) text = text.slice(prefix.length);
    if (suffix && text.endsWith(suffix)) text = text.slice(0, -suffix.length);
    const split = aim ? stripAim(text) : { text, symbology: undefined };
    this.#events.emit('scan', { text: split.text, symbology: split.symbology, source: this.id, at: this.#clock.now(), raw });
  }
}
