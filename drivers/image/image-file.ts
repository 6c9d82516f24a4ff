/** Reads PNG and JPEG files into RGBA frames (pure JS decoders: no native image library). */
import { readFile } from 'node:fs/promises';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { ScanpayError } from '../../agent/errors.ts';
import type { RawFrame } from './decoder.ts';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

export function decodeImageBytes(bytes: Buffer, name: string): RawFrame {
  try {
    if (bytes.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]))) {
      const png = PNG.sync.read(bytes);
      return { data: png.data, width: png.width, height: png.height, format: 'rgba' };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
      return { data: img.data, width: img.width, height: img.height, format: 'rgba' };
    }
  } catch (e) {
    throw new ScanpayError('SCAN_IMAGE_UNREADABLE', { message: `${name}: ${e instanceof Error ? e.message : String(e)}`, cause: e, detail: { file: name } });
  }
  throw new ScanpayError('SCAN_IMAGE_UNREADABLE', { message: `${name} is neither PNG nor JPEG`, detail: { file: name } });
}

export async function readImageFile(path: string): Promise<RawFrame> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new ScanpayError('SCAN_IMAGE_UNREADABLE', { message: `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, cause: e, detail: { file: path } });
  }
  return decodeImageBytes(bytes, path);
}
