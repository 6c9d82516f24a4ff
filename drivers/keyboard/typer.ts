/**
 * Turns key presses into scanned text the way a keyboard-wedge scanner means them: keys
 * are HID usage IDs read with the host's layout and the modifier state, Enter or Tab (as
 * configured) ends a code, and Alt held while keypad digits are typed makes one character
 * by its decimal code (Alt+0029 is GS: how wedge scanners send the separators of GS1
 * codes and other characters the layout lacks). Both the HID wedge reports and the Linux
 * evdev events feed it, so a code reads the same whichever way the scanner is attached.
 */
import { ScanpayError } from '../../agent/errors.ts';
import type { Layout } from './layouts.ts';

/** Modifier bits as in byte 0 of a HID boot keyboard report. */
export const MOD = { leftCtrl: 0x01, leftShift: 0x02, leftAlt: 0x04, leftGui: 0x08, rightCtrl: 0x10, rightShift: 0x20, rightAlt: 0x40, rightGui: 0x80 } as const;
const SHIFT = MOD.leftShift | MOD.rightShift;
const CTRL = MOD.leftCtrl | MOD.rightCtrl;

export type WedgeTerminator = 'enter' | 'tab';
export type TypedResult = { frame: Buffer } | { error: ScanpayError };

const ENTER = [0x28, 0x58];
const TAB = 0x2b;
/** Keypad 1..9 then 0. */
const KEYPAD_DIGITS = [0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62];
/** Stands for a key the layout cannot type: the manager rejects the code instead of passing on an altered one. */
const UNTYPABLE = '\u001a';

export class Typer {
  readonly #layout: Layout;
  readonly #terminator: WedgeTerminator;
  readonly #maxChars: number;
  #text = '';
  #modifiers = 0;
  /** Keypad digits typed while Alt is held; undefined when no Alt sequence is under way. */
  #altDigits: string | undefined;
  #overflowing = false;

  constructor(layout: Layout, terminator: WedgeTerminator, maxChars: number) {
    this.#layout = layout;
    this.#terminator = terminator;
    this.#maxChars = maxChars;
  }

  /** The modifier keys held changed. Releasing Alt ends an Alt-keypad sequence. */
  modifiers(modifiers: number): TypedResult[] {
    const altReleased = this.#modifiers & MOD.leftAlt && !(modifiers & MOD.leftAlt);
    this.#modifiers = modifiers;
    if (!altReleased || this.#altDigits === undefined) return [];
    const digits = this.#altDigits;
    this.#altDigits = undefined;
    const code = Number(digits);
    // Alt+0NNN is the Windows code page, Alt+NNN the DOS one; they agree below 128, which
    // is all scanners send this way (GS, RS, EOT). Anything above is not guessed at.
    return this.#type(digits.length > 0 && code > 0 && code < 128 ? String.fromCharCode(code) : UNTYPABLE);
  }

  /** A key went down (never called for autorepeat or release). */
  press(usage: number): TypedResult[] {
    if (this.#modifiers & MOD.leftAlt) {
      const digit = KEYPAD_DIGITS.indexOf(usage);
      if (digit >= 0) {
        this.#altDigits = (this.#altDigits ?? '') + String((digit + 1) % 10);
        return [];
      }
    }
    if (this.#terminator === 'tab' ? usage === TAB : ENTER.includes(usage)) return this.#end();
    return this.#type(this.#char(usage));
  }

  #char(usage: number): string {
    const key = this.#layout.get(usage);
    if (!key || this.#modifiers & CTRL) return UNTYPABLE;
    if (this.#modifiers & MOD.rightAlt) return key.altGr ?? UNTYPABLE;
    return this.#modifiers & SHIFT ? key.shift : key.plain;
  }

  #type(char: string): TypedResult[] {
    if (this.#overflowing) return [];
    this.#text += char;
    if (this.#text.length < this.#maxChars) return [];
    // A code that never ends (wrong terminator setting): report it once, drop it to its end.
    this.#overflowing = true;
    this.#text = '';
    return [{ error: new ScanpayError('SCAN_FRAME_TOO_LONG', { message: `no ${this.#terminator === 'tab' ? 'Tab' : 'Enter'} after ${this.#maxChars} characters: the code is dropped up to its end (check the scanner's terminator setting)`, detail: { maxChars: this.#maxChars } }) }];
  }

  #end(): TypedResult[] {
    const text = this.#text;
    this.#text = '';
    if (this.#overflowing) {
      this.#overflowing = false;
      return [];
    }
    return [{ frame: Buffer.from(text, 'utf8') }];
  }
}
