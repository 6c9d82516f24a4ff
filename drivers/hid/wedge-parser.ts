/**
 * Keyboard-wedge scanners type the code as boot keyboard reports: modifier bits, a
 * reserved byte, and up to six usage IDs of keys held down, after a report ID byte when
 * the device numbers its reports (composite scanners do). A key counts when it first
 * appears; scanners release every key between characters, so "11" arrives as press,
 * release, press. The Typer turns the presses into text.
 */
import { ScanpayError } from '../../agent/errors.ts';
import type { Layout } from '../keyboard/layouts.ts';
import { Typer, type TypedResult, type WedgeTerminator } from '../keyboard/typer.ts';

export type { WedgeTerminator } from '../keyboard/typer.ts';
export type WedgeResult = TypedResult;

const BOOT_REPORT_BYTES = 8;
const ERROR_ROLL_OVER = 0x01;

export class WedgeParser {
  readonly #typer: Typer;
  #held = new Set<number>();

  constructor(layout: Layout, terminator: WedgeTerminator, maxChars: number) {
    this.#typer = new Typer(layout, terminator, maxChars);
  }

  /** Feeds one input report; returns the codes it completed (usually none or one). */
  push(data: Buffer): WedgeResult[] {
    // With report IDs the report is one byte longer: the ID comes first.
    const report = data.length === BOOT_REPORT_BYTES + 1 ? data.subarray(1) : data;
    if (report.length !== BOOT_REPORT_BYTES) {
      return [{ error: new ScanpayError('SCAN_FRAME_INVALID', { message: `keyboard report of ${data.length} bytes, expected 8 (or 9 with a report ID)`, detail: { bytes: data.length } }) }];
    }
    const keys = [...report.subarray(2)].filter((k) => k !== 0);
    // Too many keys at once: the report carries no usable key state, keep the old one.
    if (keys.includes(ERROR_ROLL_OVER)) return [];
    const pressed = keys.filter((k) => !this.#held.has(k));
    this.#held = new Set(keys);
    const results = this.#typer.modifiers(report[0] ?? 0);
    for (const usage of pressed) results.push(...this.#typer.press(usage));
    return results;
  }
}
