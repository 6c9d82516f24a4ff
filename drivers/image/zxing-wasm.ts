/**
 * Decoding with zxing-wasm (ZXing C++ compiled to WebAssembly). On camera frames of phone
 * screens it reads more codes than @zxing/library, in less time per frame (see
 * `npm run bench:decode`). Its .wasm ships inside the package: it is handed over as
 * bytes, because by default zxing-wasm fetches it from a CDN, and a till has no internet
 * access to spare.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { prepareZXingModule, readBarcodes, type ReaderOptions } from 'zxing-wasm/reader';
import type { Symbology } from '../source.ts';
import { toLuminance, type Decoded, type RawFrame } from './frame.ts';

/** zxing-wasm's canonical format names. */
const SYMBOLOGY: Record<string, Symbology> = {
  QRCode: 'QR Code',
  Code128: 'Code 128',
  EAN13: 'EAN-13',
  EAN8: 'EAN-8',
  UPCA: 'UPC-A',
  UPCE: 'UPC-E',
};

/** The options the benchmark compares and the driver uses. */
export const READER_OPTIONS: ReaderOptions = {
  formats: ['QRCode', 'Code128', 'EAN-13', 'EAN-8', 'UPC-A', 'UPC-E'],
  tryHarder: true,
  tryRotate: true,
  tryInvert: true,
  maxNumberOfSymbols: 1,
};

let prepared: Promise<unknown> | undefined;

/** Loads the packaged .wasm once per thread. */
export function prepareZxingWasm(): Promise<unknown> {
  prepared ??= readFile(createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm')).then((wasm) =>
    prepareZXingModule({ overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer }, fireImmediately: true }),
  );
  return prepared;
}

/** Gray or RGBA frame to the RGBA ImageData shape zxing-wasm reads. */
function toImageData(frame: RawFrame): ImageData {
  if (frame.format === 'rgba') {
    toLuminance(frame); // checks the size
    return { data: new Uint8ClampedArray(frame.data.buffer, frame.data.byteOffset, frame.data.length), width: frame.width, height: frame.height, colorSpace: 'srgb' } as ImageData;
  }
  const gray = toLuminance(frame);
  const rgba = new Uint8ClampedArray(gray.length * 4);
  for (let i = 0, j = 0; i < gray.length; i++, j += 4) {
    const v = gray[i]!;
    rgba[j] = v;
    rgba[j + 1] = v;
    rgba[j + 2] = v;
    rgba[j + 3] = 255;
  }
  return { data: rgba, width: frame.width, height: frame.height, colorSpace: 'srgb' } as ImageData;
}

export async function decodeWithZxingWasm(frame: RawFrame, options: ReaderOptions = READER_OPTIONS): Promise<Decoded | undefined> {
  await prepareZxingWasm();
  const results = await readBarcodes(toImageData(frame), options);
  const hit = results.find((r) => r.isValid);
  return hit ? { text: hit.text, symbology: SYMBOLOGY[hit.format] ?? 'other' } : undefined;
}
