/**
 * Key event streams as a USB keyboard-wedge scanner produces them on Linux: per key, an
 * EV_MSC/MSC_SCAN record (the HID usage), the EV_KEY record, then EV_SYN/SYN_REPORT, each
 * a 24-byte input_event. Built from include/uapi/linux/input-event-codes.h and the kernel's
 * hid-input key map, not captured from a physical device: none was at hand.
 */
import { encodeInputEvent } from '../../../drivers/evdev/input-events.ts';

const EV_SYN = 0;
const EV_KEY = 1;
const EV_MSC = 4;
const MSC_SCAN = 4;

export const KEY = {
  ENTER: 28,
  TAB: 15,
  LEFTSHIFT: 42,
  RIGHTALT: 100,
  LEFTALT: 56,
  Q: 16,
  W: 17,
  A: 30,
  Z: 44,
  KP0: 82,
  KP2: 80,
  KP9: 73,
  NUMLOCK: 69,
} as const;

/** KEY_1..KEY_0 */
export const digitKey = (d: string): number => (d === '0' ? 11 : 1 + Number(d));

export type Stroke = [code: number, value: 0 | 1 | 2];

/** Records for key strokes; `usec` advances 4 ms per stroke like a scanner typing fast. */
export function record(strokes: Stroke[], recordBytes = 24): Buffer {
  const out: Buffer[] = [];
  strokes.forEach(([code, value], i) => {
    const t = { sec: 1764460800, usec: 4000 * i };
    out.push(encodeInputEvent({ ...t, type: EV_MSC, code: MSC_SCAN, value: 0x70000 + code }, recordBytes));
    out.push(encodeInputEvent({ ...t, type: EV_KEY, code, value }, recordBytes));
    out.push(encodeInputEvent({ ...t, type: EV_SYN, code: 0, value: 0 }, recordBytes));
  });
  return Buffer.concat(out);
}

/** Press and release, optionally with a modifier held around it. */
export function tap(code: number, modifier?: number): Stroke[] {
  const key: Stroke[] = [
    [code, 1],
    [code, 0],
  ];
  return modifier === undefined ? key : [[modifier, 1], ...key, [modifier, 0]];
}

export const digits = (text: string): Stroke[] => [...text].flatMap((d) => tap(digitKey(d)));
