/** A camera or image frame, and what a decoder finds in it. */
import { ScanpayError } from '../../agent/errors.ts';
import type { Symbology } from '../source.ts';

export type PixelFormat = 'gray' | 'rgba';

export interface RawFrame {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  format: PixelFormat;
}

export interface Decoded {
  text: string;
  symbology: Symbology;
}

export const BYTES_PER_PIXEL: Record<PixelFormat, number> = { gray: 1, rgba: 4 };

/** Frame to 8-bit luminance, checking that the buffer matches the stated size. */
export function toLuminance(frame: RawFrame): Uint8ClampedArray {
  const { data, width, height, format } = frame;
  const pixels = width * height;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || data.length !== pixels * BYTES_PER_PIXEL[format]) {
    throw new ScanpayError('SCAN_IMAGE_UNREADABLE', {
      message: `a ${width}x${height} ${format} frame needs ${pixels * BYTES_PER_PIXEL[format]} bytes, got ${data.length}`,
      detail: { width, height, format, bytes: data.length },
    });
  }
  if (format === 'gray') return new Uint8ClampedArray(data.buffer, data.byteOffset, data.length);
  const gray = new Uint8ClampedArray(pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 4) {
    // Transparent pixels are blank paper, not black ink.
    const a = data[j + 3]! / 255;
    const y = (data[j]! * 77 + data[j + 1]! * 150 + data[j + 2]! * 29) >> 8;
    gray[i] = y * a + 255 * (1 - a);
  }
  return gray;
}
