/**
 * HID POS barcode scanners (usage page 0x8C) send the decoded data in input reports. Two
 * layouts are in use:
 *
 * `aim`, the USB-IF POS layout Honeywell, Zebra and Datalogic share (64-byte reports):
 *   byte 0       report ID (0x02, scanned data)
 *   byte 1       number of data bytes in this report (0..56)
 *   bytes 2..4   AIM symbology identifier, e.g. `]Q1` (zeros when the scanner gives none)
 *   bytes 5..60  data
 *   bytes 61..62 vendor symbology code (ignored)
 *   byte 63      bit 0 set: more reports of this code follow
 *
 * `plain`, common on budget scanners and scan boxes (any report size):
 *   byte 0       report ID
 *   byte 1       number of data bytes in this report
 *   bytes 2..    data; a full report means more may follow
 *
 * A code longer than one report chains over several; the parser joins them. A chain
 * whose next part does not come within `chainMs` is over: in the `aim` layout the code
 * is incomplete and dropped (never merged into the next scan); in `plain` a full last
 * report is indistinguishable from a code that exactly fills it, so the code is delivered.
 */
import type { Clock } from '../../agent/clock.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { symbologyFromAim } from '../aim.ts';
import type { Symbology } from '../source.ts';

export const POS_REPORT_ID = 0x02;
export const POS_REPORT_BYTES = 64;
export const POS_DATA_BYTES = 56;
const AIM_DATA_OFFSET = 5;
const PLAIN_DATA_OFFSET = 2;
const CONTINUED = 0x01;

export type PosLayout = 'aim' | 'plain';
export type PosResult = { frame: Buffer; symbology: Symbology | undefined } | { error: ScanpayError };

export interface PosParserOptions {
  layout: PosLayout;
  maxBytes: number;
  /** Longest wait for the next report of a chained code. */
  chainMs: number;
}

export class PosParser {
  readonly #options: PosParserOptions;
  readonly #clock: Clock;
  readonly #onLate: (result: PosResult) => void;
  #parts: Buffer[] = [];
  #symbology: Symbology | undefined;
  #timer: unknown;

  /** `onLate` receives what a chain timeout produces, outside any `push`. */
  constructor(options: PosParserOptions, clock: Clock, onLate: (result: PosResult) => void = () => undefined) {
    this.#options = options;
    this.#clock = clock;
    this.#onLate = onLate;
  }

  push(report: Buffer): PosResult[] {
    return this.#options.layout === 'aim' ? this.#pushAim(report) : this.#pushPlain(report);
  }

  #pushAim(report: Buffer): PosResult[] {
    // Other report IDs (status, feature echoes) carry no scan.
    if (report[0] !== POS_REPORT_ID) return [];
    if (report.length !== POS_REPORT_BYTES) return this.#invalid(report, `${report.length} bytes, expected ${POS_REPORT_BYTES}`);
    const length = report[1] ?? 0;
    if (length > POS_DATA_BYTES) return this.#invalid(report, `data length ${length} exceeds ${POS_DATA_BYTES}`);
    const symbology = this.#parts.length === 0 ? symbologyFromAim(report.subarray(2, 5).toString('latin1')) : this.#symbology;
    return this.#part(report.subarray(AIM_DATA_OFFSET, AIM_DATA_OFFSET + length), symbology, Boolean((report[POS_REPORT_BYTES - 1] ?? 0) & CONTINUED));
  }

  #pushPlain(report: Buffer): PosResult[] {
    if (report.length < 3) return this.#invalid(report, `${report.length} bytes is too short for a data report`);
    const room = report.length - PLAIN_DATA_OFFSET;
    const length = report[1] ?? 0;
    if (length > room) return this.#invalid(report, `data length ${length} exceeds the ${room} bytes the report holds`);
    return this.#part(report.subarray(PLAIN_DATA_OFFSET, PLAIN_DATA_OFFSET + length), undefined, length === room);
  }

  #part(data: Buffer, symbology: Symbology | undefined, continued: boolean): PosResult[] {
    this.#stopTimer();
    this.#symbology = symbology;
    this.#parts.push(data);
    const frame = Buffer.concat(this.#parts);
    if (continued && frame.length < this.#options.maxBytes) {
      this.#timer = this.#clock.setTimeout(() => this.#chainTimedOut(), this.#options.chainMs);
      return [];
    }
    this.#parts = [];
    return [{ frame, symbology }];
  }

  #chainTimedOut(): void {
    this.#timer = undefined;
    const frame = Buffer.concat(this.#parts);
    this.#parts = [];
    if (this.#options.layout === 'plain') return this.#onLate({ frame, symbology: undefined });
    this.#onLate({
      error: new ScanpayError('SCAN_FRAME_INCOMPLETE', {
        message: `HID POS: the rest of a chained code did not come within ${this.#options.chainMs} ms (${frame.length} bytes dropped): scan it again`,
        detail: { bytes: frame.length },
      }),
    });
  }

  #invalid(report: Buffer, message: string): PosResult[] {
    this.#stopTimer();
    this.#parts = [];
    return [{ error: new ScanpayError('SCAN_FRAME_INVALID', { message: `HID POS report: ${message}`, detail: { bytes: report.length, reportId: report[0] } }) }];
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
