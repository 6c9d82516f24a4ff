/**
 * HID POS barcode scanners (usage page 0x8C) send the decoded data in 64-byte input
 * reports, the layout Honeywell, Zebra and Datalogic share with the USB-IF POS tables:
 *
 *   byte 0       report ID (0x02, scanned data)
 *   byte 1       number of data bytes in this report (0..56)
 *   bytes 2..4   AIM symbology identifier, e.g. `]Q1` (zeros when the scanner gives none)
 *   bytes 5..60  data
 *   bytes 61..62 vendor symbology code (ignored)
 *   byte 63      bit 0 set: more reports of this code follow
 *
 * A code longer than 56 bytes chains over several reports; the parser joins them.
 */
import { ScanpayError } from '../../agent/errors.ts';
import { symbologyFromAim } from '../aim.ts';
import type { Symbology } from '../source.ts';

export const POS_REPORT_ID = 0x02;
export const POS_REPORT_BYTES = 64;
export const POS_DATA_BYTES = 56;
const DATA_OFFSET = 5;
const CONTINUED = 0x01;

export type PosResult = { frame: Buffer; symbology: Symbology | undefined } | { error: ScanpayError };

export class PosParser {
  readonly #maxBytes: number;
  #parts: Buffer[] = [];
  #symbology: Symbology | undefined;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  push(report: Buffer): PosResult[] {
    const invalid = (message: string): PosResult[] => {
      this.#parts = [];
      return [{ error: new ScanpayError('SCAN_FRAME_INVALID', { message: `HID POS report: ${message}`, detail: { bytes: report.length, reportId: report[0] } }) }];
    };
    // Other report IDs (status, feature echoes) carry no scan.
    if (report[0] !== POS_REPORT_ID) return [];
    if (report.length !== POS_REPORT_BYTES) return invalid(`${report.length} bytes, expected ${POS_REPORT_BYTES}`);
    const length = report[1] ?? 0;
    if (length > POS_DATA_BYTES) return invalid(`data length ${length} exceeds ${POS_DATA_BYTES}`);
    if (this.#parts.length === 0) this.#symbology = symbologyFromAim(report.subarray(2, 5).toString('latin1'));
    this.#parts.push(report.subarray(DATA_OFFSET, DATA_OFFSET + length));
    const frame = Buffer.concat(this.#parts);
    if ((report[POS_REPORT_BYTES - 1] ?? 0) & CONTINUED && frame.length < this.#maxBytes) return [];
    this.#parts = [];
    return [{ frame, symbology: this.#symbology }];
  }
}

