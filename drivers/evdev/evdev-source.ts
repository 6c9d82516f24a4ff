/**
 * A keyboard-wedge scanner read as the Linux input device it is (`/dev/input/event*`):
 * what cheap USB, Bluetooth and 2.4 GHz scanners are to the kernel. The device is grabbed
 * (EVIOCGRAB) so the typed code does not also land in whatever window has the focus;
 * its key events are turned into codes with the configured keyboard layout.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Clock } from '../../agent/clock.ts';
import { ScanpayError, isScanpayError } from '../../agent/errors.ts';
import { stripAim } from '../aim.ts';
import { LAYOUTS, type LayoutName } from '../keyboard/layouts.ts';
import type { TypedResult, WedgeTerminator } from '../keyboard/typer.ts';
import { scanText } from '../scan-text.ts';
import { Emitter, type Feedback, type ScannerSource, type SourceEvents } from '../source.ts';
import { grab, revoke } from './grab.ts';
import { HOST_RECORD_BYTES, InputEventReader } from './input-events.ts';
import { KeyReader } from './key-reader.ts';
import { evdevUdevRule } from './udev.ts';

export interface EvdevSourceOptions {
  id: string;
  path: string;
  layout: LayoutName;
  terminator: WedgeTerminator;
  /** Take the device for scanpay alone. Off only to watch a scanner while it also types. */
  grab: boolean;
  aim: boolean;
  maxFrameBytes: number;
  /** Size of one input_event record; the host's unless replaying another machine's recording. */
  recordBytes?: number;
}


function openError(e: unknown, path: string): ScanpayError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO') {
    return new ScanpayError('SCAN_DEVICE_NOT_FOUND', { message: `no input device at ${path}: is the scanner plugged in (or paired)?`, cause: e, detail: { path } });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new ScanpayError('SCAN_DEVICE_ACCESS_DENIED', {
      message: `no permission to read ${path}: install docs/deploy/99-scanpay-evdev.rules with the scanner's USB id (${evdevUdevRule()}), run udevadm control --reload && udevadm trigger, and replug. Adding the user to group input would let it read every keyboard: don't.`,
      cause: e,
      detail: { path },
    });
  }
  return new ScanpayError('SCAN_DEVICE_IO', { message: `${path}: ${e instanceof Error ? e.message : String(e)}`, cause: e, detail: { path } });
}

export class EvdevSource implements ScannerSource {
  readonly id: string;
  readonly #options: EvdevSourceOptions;
  readonly #clock: Clock;
  readonly #events = new Emitter<SourceEvents>();
  #handle: FileHandle | undefined;

  constructor(options: EvdevSourceOptions, deps: { clock: Clock }) {
    this.id = options.id;
    this.#options = options;
    this.#clock = deps.clock;
  }

  on<K extends keyof SourceEvents>(event: K, listener: (e: SourceEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async open(): Promise<void> {
    if (this.#handle) return;
    const { path } = this.#options;
    const handle = await open(path, 'r').catch((e: unknown) => {
      throw openError(e, path);
    });
    if (this.#options.grab) {
      try {
        await grab(handle.fd, path);
      } catch (e) {
        await handle.close();
        throw e;
      }
    }
    this.#handle = handle;
    this.#events.emit('status', { source: this.id, status: 'connected', at: this.#clock.now() });
    void this.#read(handle);
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    if (!handle) return;
    // A read waits on the device in a libuv thread, and closing waits for it: revoking the
    // handle (grabbed or not) wakes it with ENODEV so close can finish.
    await revoke(handle.fd).catch(() => undefined);
    await handle.close().catch(() => undefined);
  }

  async feedback(_kind: Feedback): Promise<boolean> {
    return false;
  }

  async #read(handle: FileHandle): Promise<void> {
    const records = new InputEventReader(this.#options.recordBytes ?? HOST_RECORD_BYTES);
    const keys = new KeyReader(LAYOUTS[this.#options.layout], this.#options.terminator, this.#options.maxFrameBytes);
    const buffer = Buffer.alloc(64 * (this.#options.recordBytes ?? HOST_RECORD_BYTES));
    let lost: unknown;
    try {
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        for (const result of keys.push(records.push(buffer.subarray(0, bytesRead)))) this.#handleResult(result);
      }
    } catch (e) {
      lost = e;
    }
    if (this.#handle !== handle) return; // closed on purpose
    this.#handle = undefined;
    await handle.close().catch(() => undefined);
    const error = new ScanpayError('SCAN_DEVICE_DISCONNECTED', {
      message: `input device ${this.#options.path} went away${isScanpayError(lost) ? '' : lost ? ` (${(lost as Error).message})` : ''}`,
      cause: lost,
      detail: { path: this.#options.path },
    });
    this.#events.emit('status', { source: this.id, status: 'disconnected', at: this.#clock.now(), error });
  }

  #handleResult(result: TypedResult): void {
    const at = this.#clock.now();
    const text = 'error' in result ? result.error : scanText(result.frame);
    if (typeof text !== 'string') return this.#events.emit('status', { source: this.id, status: 'error', at, error: text });
    const split = this.#options.aim ? stripAim(text) : { text, symbology: undefined };
    this.#events.emit('scan', { text: split.text, symbology: split.symbology, source: this.id, at, raw: (result as { frame: Buffer }).frame });
  }
}
