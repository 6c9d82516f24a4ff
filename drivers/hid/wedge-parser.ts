/**
 * Keyboard-wedge scanners type the code as 8-byte boot keyboard reports: modifier bits,
 * a reserved byte, and up to six usage IDs of keys held down. A key counts when it first
 * appears; scanners release every key between characters, so "11" arrives as press,
 * release, press. Enter or Tab (as configured) ends the code.
 */
import { ScanpayError } from '../../agent/errors.ts';
import type { Layout } from './layouts.ts';

export type WedgeTerminator = 'enter' | 'tab';

const SHIFT = 0x02 | 0x20;
const CTRL = 0x01 | 0x10;
const RIGHT_ALT = 0x40;
const ENTER = [0x28, 0x58];
const TAB = 0x2b;
const ERROR_ROLL_OVER = 0x01;

export type WedgeResult = { frame: Buffer } | { error: ScanpayError };

export class WedgeParser {
  readonly #layout: Layout;
  readonly #terminator: WedgeTerminator;
  readonly #maxChars: number;
  #held = new Set<number>();
  #text = '';

  constructor(layout: Layout, terminator: WedgeTerminator, maxChars: number) {
    this.#layout = layout;
    this.#terminator = terminator;
    this.#maxChars = maxChars;
  }

  /** Feeds one input report; returns the codes it completed (usually none or one). */
  push(report: Buffer): WedgeResult[] {
    if (report.length !== 8) {
      return [{ error: new ScanpayError('SCAN_FRAME_INVALID', { message: `keyboard report of ${report.length} bytes, expected 8`, detail: { bytes: report.length } }) }];
    }
    const modifiers = report[0] ?? 0;
    const keys = [...report.subarray(2)].filter((k) => k !== 0);
    // Too many keys at once: the report carries no usable key state, keep the old one.
    if (keys.includes(ERROR_ROLL_OVER)) return [];
    const pressed = keys.filter((k) => !this.#held.has(k));
    this.#held = new Set(keys);
    const results: WedgeResult[] = [];
    for (const usage of pressed) {
      if (this.#isTerminator(usage)) {
        results.push({ frame: Buffer.from(this.#text, 'utf8') });
        this.#text = '';
      } else {
        this.#text += this.#char(usage, modifiers);
        // A code that never ends (wrong terminator setting) is handed on for the manager to reject.
        if (this.#text.length >= this.#maxChars) {
          results.push({ frame: Buffer.from(this.#text, 'utf8') });
          this.#text = '';
        }
      }
    }
    return results;
  }

  #isTerminator(usage: number): boolean {
    return this.#terminator === 'tab' ? usage === TAB : ENTER.includes(usage);
  }

  #char(usage: number, modifiers: number): string {
    const key = this.#layout.get(usage);
    // Control combinations and keys outside the layout become control characters, so the
    // manager rejects the code instead of passing on a silently altered one.
    if (!key || modifiers & CTRL) return '\u001a';
    if (modifiers & RIGHT_ALT) return key.altGr ?? '\u001a';
    return modifiers & SHIFT ? key.shift : key.plain;
  }
}
