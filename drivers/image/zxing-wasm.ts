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
import { smoothAlongBars, upscaledCrop, type Box } from './enhance.ts';
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

/** The second look for 1D codes: quick row scans, no rotation. */
const BARS_OPTIONS: ReaderOptions = { formats: ['Code128', 'EAN-13', 'EAN-8', 'UPC-A', 'UPC-E'], tryHarder: false, tryRotate: false, tryInvert: true, maxNumberOfSymbols: 1 };
/** Rows averaged for the 1D second look: a tenth of a typical on-screen bar height at 640x480. */
const BAR_SMOOTHING = 6;

/** Gray or RGBA frame to the RGBA ImageData shape zxing-wasm reads. */
function toImageData(frame: RawFrame): ImageData {
  if (frame.format === 'rgba') {
    toLuminance(frame); // checks the size
    return { data: new Uint8ClampedArray(frame.data.buffer, frame.data.byteOffset, frame.data.length), width: frame.width, height: frame.height, colorSpace: 'srgb' } as ImageData;
  }
  return grayImage(toLuminance(frame), frame.width, frame.height);
}

function grayImage(gray: Uint8ClampedArray, width: number, height: number): ImageData {
  const rgba = new Uint8ClampedArray(gray.length * 4);
  for (let i = 0, j = 0; i < gray.length; i++, j += 4) {
    const v = gray[i]!;
    rgba[j] = v;
    rgba[j + 1] = v;
    rgba[j + 2] = v;
    rgba[j + 3] = 255;
  }
  return { data: rgba, width, height, colorSpace: 'srgb' } as ImageData;
}

/** zxing-wasm as it comes: the benchmark's reference. */
export async function decodeWithZxingWasm(frame: RawFrame, options: ReaderOptions = READER_OPTIONS): Promise<Decoded | undefined> {
  await prepareZxingWasm();
  return firstValid(await readBarcodes(toImageData(frame), options));
}

const firstValid = (results: Awaited<ReturnType<typeof readBarcodes>>): Decoded | undefined => {
  const hit = results.find((r) => r.isValid);
  return hit ? { text: hit.text, symbology: SYMBOLOGY[hit.format] ?? 'other' } : undefined;
};

/**
 * scanpay's decoder: zxing-wasm, then two second looks. A QR code that was found but
 * failed its checksum (small modules, a dim screen) is read again from its crop scaled up
 * twice; and a frame where nothing was found gets a quick 1D pass after averaging along
 * the bars (noise, moiré and dark mode break Code 128 row scans). A frame without a code
 * costs one quick extra pass; see `npm run bench:decode` for the figures.
 */
export async function decodeFrame(frame: RawFrame): Promise<Decoded | undefined> {
  await prepareZxingWasm();
  const gray = toLuminance(frame);
  const { width, height } = frame;
  const results = await readBarcodes(frame.format === 'rgba' ? toImageData(frame) : grayImage(gray, width, height), { ...READER_OPTIONS, returnErrors: true });
  const hit = firstValid(results);
  if (hit) return hit;
  const seen = results.find((r) => !r.isValid && r.format.includes('QR'));
  if (seen) {
    const crop = upscaledCrop(gray, width, height, around(seen.position, width, height));
    const again = firstValid(await readBarcodes(grayImage(crop.gray, crop.width, crop.height), READER_OPTIONS));
    if (again) return again;
  }
  return firstValid(await readBarcodes(grayImage(smoothAlongBars(gray, width, height, BAR_SMOOTHING), width, height), BARS_OPTIONS));
}

/** The symbol's bounding box with a quiet zone of 30% around it, inside the frame. */
function around(p: { topLeft: { x: number; y: number }; topRight: { x: number; y: number }; bottomLeft: { x: number; y: number }; bottomRight: { x: number; y: number } }, width: number, height: number): Box {
  const xs = [p.topLeft.x, p.topRight.x, p.bottomLeft.x, p.bottomRight.x];
  const ys = [p.topLeft.y, p.topRight.y, p.bottomLeft.y, p.bottomRight.y];
  const margin = (Math.max(...xs) - Math.min(...xs)) * 0.3;
  return {
    x0: Math.max(0, Math.floor(Math.min(...xs) - margin)),
    y0: Math.max(0, Math.floor(Math.min(...ys) - margin)),
    x1: Math.min(width, Math.ceil(Math.max(...xs) + margin)),
    y1: Math.min(height, Math.ceil(Math.max(...ys) + margin)),
  };
}
