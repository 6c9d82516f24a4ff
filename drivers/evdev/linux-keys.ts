/**
 * Linux key codes (include/uapi/linux/input-event-codes.h) to the HID usage IDs the
 * keyboard layouts are written in: the kernel's hid-input does the opposite mapping for
 * a USB keyboard, so this undoes it and both paths share one set of layouts.
 */
import { MOD } from '../keyboard/typer.ts';

const usage = new Map<number, number>();
const letters = (first: number, row: string) => [...row].forEach((c, i) => usage.set(first + i, 0x04 + c.charCodeAt(0) - 97));
letters(16, 'qwertyuiop');
letters(30, 'asdfghjkl');
letters(44, 'zxcvbnm');
// KEY_1..KEY_0 are 2..11, HID 1..0 are 0x1e..0x27.
for (let i = 0; i < 10; i++) usage.set(2 + i, 0x1e + i);
for (const [code, hid] of [
  [1, 0x29], // ESC
  [12, 0x2d], // MINUS
  [13, 0x2e], // EQUAL
  [14, 0x2a], // BACKSPACE
  [15, 0x2b], // TAB
  [26, 0x2f], // LEFTBRACE
  [27, 0x30], // RIGHTBRACE
  [28, 0x28], // ENTER
  [39, 0x33], // SEMICOLON
  [40, 0x34], // APOSTROPHE
  [41, 0x35], // GRAVE
  [43, 0x31], // BACKSLASH (also the ISO key left of Enter, HID 0x32)
  [51, 0x36], // COMMA
  [52, 0x37], // DOT
  [53, 0x38], // SLASH
  [55, 0x55], // KPASTERISK
  [57, 0x2c], // SPACE
  [71, 0x5f], // KP7
  [72, 0x60], // KP8
  [73, 0x61], // KP9
  [74, 0x56], // KPMINUS
  [75, 0x5c], // KP4
  [76, 0x5d], // KP5
  [77, 0x5e], // KP6
  [78, 0x57], // KPPLUS
  [79, 0x59], // KP1
  [80, 0x5a], // KP2
  [81, 0x5b], // KP3
  [82, 0x62], // KP0
  [83, 0x63], // KPDOT
  [86, 0x64], // 102ND (the ISO key left of Z)
  [96, 0x58], // KPENTER
  [98, 0x54], // KPSLASH
] as const) {
  usage.set(code, hid);
}

export const LINUX_MODIFIERS: ReadonlyMap<number, number> = new Map([
  [29, MOD.leftCtrl],
  [42, MOD.leftShift],
  [56, MOD.leftAlt],
  [125, MOD.leftGui],
  [97, MOD.rightCtrl],
  [54, MOD.rightShift],
  [100, MOD.rightAlt],
  [126, MOD.rightGui],
]);

/** Lock keys change no state a scanner relies on (it types with NumLock assumed on). */
export const LINUX_IGNORED: ReadonlySet<number> = new Set([58, 69, 70]);

/** HID usage of a Linux key code; 0 (no key) for one the layouts do not know. */
export const hidUsage = (code: number): number => usage.get(code) ?? 0;
