/**
 * Keyboard layouts for wedge scanners: HID usage ID -> character, per modifier state.
 * A scanner "types" the code as if on the host's layout, so a scanner set to German
 * sends the usage of the `Z` key for a `y`; the agent must read it with the same layout.
 */
export interface KeyChars {
  plain: string;
  shift: string;
  altGr?: string;
}

export type Layout = ReadonlyMap<number, KeyChars>;
export const LAYOUT_NAMES = ['us', 'de', 'fr', 'uk'] as const;
export type LayoutName = (typeof LAYOUT_NAMES)[number];

function build(rows: ReadonlyArray<[number, string, string, string?]>): Layout {
  return new Map(rows.map(([usage, plain, shift, altGr]) => [usage, altGr === undefined ? { plain, shift } : { plain, shift, altGr }]));
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const letterRows = (letters: string): Array<[number, string, string]> =>
  [...letters].map((c, i) => [0x04 + i, c, c.toUpperCase()]);
const KEYPAD: Array<[number, string, string]> = [
  [0x54, '/', '/'],
  [0x55, '*', '*'],
  [0x56, '-', '-'],
  [0x57, '+', '+'],
  ...[...'1234567890'].map((d, i): [number, string, string] => [0x59 + i, d, d]),
  [0x63, '.', '.'],
];

const US = build([
  ...letterRows(LETTERS),
  ...[...'1234567890'].map((d, i): [number, string, string] => [0x1e + i, d, '!@#$%^&*()'[i] ?? '']),
  [0x2c, ' ', ' '],
  [0x2d, '-', '_'],
  [0x2e, '=', '+'],
  [0x2f, '[', '{'],
  [0x30, ']', '}'],
  [0x31, '\\', '|'],
  [0x33, ';', ':'],
  [0x34, "'", '"'],
  [0x35, '`', '~'],
  [0x36, ',', '<'],
  [0x37, '.', '>'],
  [0x38, '/', '?'],
  ...KEYPAD,
]);

// German QWERTZ: Y and Z swap places, and the symbols move.
const DE_ALTGR: Record<number, string> = { 0x14: '@', 0x08: '€', 0x1f: '²', 0x20: '³', 0x24: '{', 0x25: '[', 0x26: ']', 0x27: '}', 0x2d: '\\', 0x30: '~', 0x64: '|' };
const DE = build(
  (
    [
      ...letterRows(LETTERS.replace('y', '#').replace('z', 'y').replace('#', 'z')),
      ...[...'1234567890'].map((d, i): [number, string, string] => [0x1e + i, d, '!"§$%&/()='[i] ?? '']),
      [0x2c, ' ', ' '],
      [0x2d, 'ß', '?'],
      [0x2e, '´', '`'],
      [0x2f, 'ü', 'Ü'],
      [0x30, '+', '*'],
      [0x31, '#', "'"],
      [0x32, '#', "'"],
      [0x33, 'ö', 'Ö'],
      [0x34, 'ä', 'Ä'],
      [0x35, '^', '°'],
      [0x36, ',', ';'],
      [0x37, '.', ':'],
      [0x38, '-', '_'],
      [0x64, '<', '>'],
      ...KEYPAD,
    ] as Array<[number, string, string]>
  ).map(([u, p, s]): [number, string, string, string?] => [u, p, s, DE_ALTGR[u]]),
);

// French AZERTY: A/Q and Z/W swap, M sits right of L, and the digits need Shift.
const FR_ALTGR: Record<number, string> = { 0x08: '€', 0x1f: '~', 0x20: '#', 0x21: '{', 0x22: '[', 0x23: '|', 0x24: '`', 0x25: '\\', 0x26: '^', 0x27: '@', 0x2d: ']', 0x2e: '}', 0x30: '¤' };
const FR = build(
  (
    [
      ...letterRows(LETTERS.replace('a', '#').replace('q', 'a').replace('#', 'q').replace('w', '#').replace('z', 'w').replace('#', 'z')).filter(([u]) => u !== 0x10),
      [0x10, ',', '?'],
      ...[...'&é"\'(-è_çà'].map((c, i): [number, string, string] => [0x1e + i, c, '1234567890'[i] ?? '']),
      [0x2c, ' ', ' '],
      [0x2d, ')', '°'],
      [0x2e, '=', '+'],
      [0x30, '$', '£'],
      [0x31, '*', 'µ'],
      [0x32, '*', 'µ'],
      [0x33, 'm', 'M'],
      [0x34, 'ù', '%'],
      [0x35, '²', '²'],
      [0x36, ';', '.'],
      [0x37, ':', '/'],
      [0x38, '!', '§'],
      [0x64, '<', '>'],
      ...KEYPAD,
    ] as Array<[number, string, string]>
  ).map(([u, p, s]): [number, string, string, string?] => [u, p, s, FR_ALTGR[u]]),
);

// British: like US but for the symbols on 2, 3, the quote key, # and backslash.
const UK = new Map(US);
for (const [usage, plain, shift, altGr] of [
  [0x1f, '2', '"'],
  [0x20, '3', '£'],
  [0x21, '4', '$', '€'],
  [0x34, "'", '@'],
  [0x32, '#', '~'],
  [0x31, '#', '~'],
  [0x35, '`', '¬'],
  [0x64, '\\', '|'],
] as Array<[number, string, string, string?]>) {
  UK.set(usage, altGr === undefined ? { plain, shift } : { plain, shift, altGr });
}

export const LAYOUTS: Record<LayoutName, Layout> = { us: US, de: DE, fr: FR, uk: UK };
