/**
 * A USB HID scanner, in HID POS mode (decoded data with symbology) or keyboard-wedge mode
 * (typed keystrokes). The device comes from an OpenHid function, the real node-hid one or
 * a recorded device, so recorded reports run through exactly this code.
 */
import type { Clock } from '../../agent/clock.ts';
import { stripAim } from '../aim.ts';
import { scanText } from '../scan-text.ts';
import { Emitter, type Feedback, type ScannerSource, type SourceEvents, type Symbology } from '../source.ts';
import { openHidDevice, type HidDevice, type HidMode, type OpenHid } from './hid-device.ts';
import { LAYOUTS, type LayoutName } from '../keyboard/layouts.ts';
import { PosParser, type PosLayout, type PosResult } from './pos-parser.ts';
import { WedgeParser, type WedgeResult, type WedgeTerminator } from './wedge-parser.ts';

export interface HidSourceOptions {
  id: string;
  vendorId: number;
  productId: number;
  mode: HidMode;
  /** Report layout of a HID POS scanner (see pos-parser.ts). */
  report: PosLayout;
  /** Longest wait for the next report of a chained HID POS code. */
  chainMs: number;
  layout: LayoutName;
  terminator: WedgeTerminator;
  /** Wedge scanners can be set to send an AIM identifier first; POS scanners report it apart. */
  aim: boolean;
  /** Output reports that make the scanner beep or light its LED, where its manual gives them. */
  feedback: Partial<Record<Feedback, Buffer>>;
  maxFrameBytes: number;
}

export interface HidDeps {
  clock: Clock;
  open?: OpenHid;
}

export class HidSource implements ScannerSource {
  readonly id: string;
  readonly #options: HidSourceOptions;
  readonly #clock: Clock;
  readonly #open: OpenHid;
  readonly #events = new Emitter<SourceEvents>();
  #device: HidDevice | undefined;

  constructor(options: HidSourceOptions, deps: HidDeps) {
    this.id = options.id;
    this.#options = options;
    this.#clock = deps.clock;
    this.#open = deps.open ?? openHidDevice;
  }

  on<K extends keyof SourceEvents>(event: K, listener: (e: SourceEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async open(): Promise<void> {
    if (this.#device) return;
    const { vendorId, productId, mode } = this.#options;
    const device = await this.#open({ vendorId, productId, mode });
    const parse = this.#parser();
    device.onReport((report) => {
      for (const result of parse(report)) this.#handle(result);
    });
    device.onLost((error) => {
      if (this.#device !== device) return;
      this.#device = undefined;
      // node-hid stops reading after an error but keeps the handle; release it so the reopen gets the device.
      void device.close().catch(() => undefined);
      this.#events.emit('status', { source: this.id, status: 'disconnected', at: this.#clock.now(), error });
    });
    this.#device = device;
    this.#events.emit('status', { source: this.id, status: 'connected', at: this.#clock.now() });
  }

  async close(): Promise<void> {
    const device = this.#device;
    this.#device = undefined;
    await device?.close();
  }

  async feedback(kind: Feedback): Promise<boolean> {
    const bytes = this.#options.feedback[kind];
    if (!bytes || !this.#device) return false;
    await this.#device.write(bytes);
    return true;
  }

  #parser(): (report: Buffer) => Array<PosResult | WedgeResult> {
    const { mode, layout, terminator, maxFrameBytes, report, chainMs } = this.#options;
    if (mode === 'pos') {
      const pos = new PosParser({ layout: report, maxBytes: maxFrameBytes, chainMs }, this.#clock, (late) => this.#handle(late));
      return (report) => pos.push(report);
    }
    const wedge = new WedgeParser(LAYOUTS[layout], terminator, maxFrameBytes);
    return (report) => wedge.push(report);
  }

  #handle(result: PosResult | WedgeResult): void {
    const at = this.#clock.now();
    if ('error' in result) {
      this.#events.emit('status', { source: this.id, status: 'error', at, error: result.error });
      return;
    }
    const decoded = scanText(result.frame);
    if (typeof decoded !== 'string') {
      this.#events.emit('status', { source: this.id, status: 'error', at, error: decoded });
      return;
    }
    let text = decoded;
    let symbology: Symbology | undefined = 'symbology' in result ? result.symbology : undefined;
    if (this.#options.aim && symbology === undefined) ({ text, symbology } = stripAim(text));
    this.#events.emit('scan', { text, symbology, source: this.id, at, raw: result.frame });
  }
}
