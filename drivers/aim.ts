/**
 * AIM symbology identifiers (ISO/IEC 15424): `]` + code character + modifier, e.g. `]Q1`
 * for QR Code, `]E0` for EAN-13/UPC-A. Serial scanners can prefix them to each scan and
 * HID POS scanners report them beside the data.
 */
import type { Symbology } from './source.ts';

const BY_CODE: Record<string, Symbology> = {
  A: 'Code 39',
  C: 'Code 128',
  d: 'Data Matrix',
  e: 'GS1 DataBar',
  F: 'Codabar',
  G: 'Code 93',
  I: 'ITF',
  L: 'PDF417',
  Q: 'QR Code',
  z: 'Aztec',
};

export function symbologyFromAim(id: string): Symbology | undefined {
  if (id.length !== 3 || id[0] !== ']') return undefined;
  const code = id[1] ?? '';
  // The EAN/UPC family tells its members apart by the modifier: 0 is EAN-13 or UPC-A
  // (a UPC-A arrives as 13 digits with a leading 0), 4 is EAN-8.
  if (code === 'E') return id[2] === '4' ? 'EAN-8' : id[2] === '0' ? 'EAN-13' : 'EAN/UPC';
  return BY_CODE[code] ?? (/^[A-Za-z]$/.test(code) ? 'other' : undefined);
}

/** Splits a leading AIM identifier off a scan; leaves the text alone when it has none. */
export function stripAim(text: string): { text: string; symbology: Symbology | undefined } {
  const symbology = symbologyFromAim(text.slice(0, 3));
  return symbology ? { text: text.slice(3), symbology } : { text, symbology: undefined };
}
