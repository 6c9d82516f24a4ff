/**
 * Decoding with zxing-wasm (ZXing C++ compiled to WebAssembly). On camera frames of phone
 * screens it reads more codes than @zxing/library, in less time per frame (see
 * `npm run bench:decode`). Its .wasm ships inside the package: it is handed over as
 * bytes, because by default zxing-wasm fetches it from a CDN, and a till has no internet
 * access to spare.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import {
  BINARIZERS,
  CHARACTER_SETS,
  EAN_ADD_ON_SYMBOLS,
  TEXT_MODES,
  defaultReaderOptions,
  prepareZXingModule,
  readBarcodes,
  type ReaderOptions,
  type ZXingReadResult,
  type ZXingReaderOptions,
  type ZXingVector,
} from 'zxing-wasm/reader';
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

/** The part of zxing-wasm's Emscripten module scanpay calls (readGray). */
interface ZxingModule {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(at: number): void;
  readBarcodesFromPixmap(at: number, width: number, height: number, options: ZXingReaderOptions): ZXingVector<ZXingReadResult>;
}
let prepared: Promise<ZxingModule> | undefined;

/** Loads the packaged .wasm once per thread. */
export function prepareZxingWasm(): Promise<ZxingModule> {
  prepared ??= readFile(createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm')).then((wasm) =>
    prepareZXingModule({ overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer }, fireImmediately: true }),
  ) as Promise<unknown> as Promise<ZxingModule>;
  return prepared;
}

/**
 * The passes scanpay's decoder makes, cheapest first; the first read ends the frame. On
 * the benchmark's hard set zxing's try-harder mode read no whole frame that its quick mode
 * missed, at nearly twice the cost, so it is spent only on the crop of a symbol
 * that was seen, a small image.
 */
const PASSES = {
  /** The whole frame, any format, upright or turned, dark mode or light. */
  quick: bindingOptions({ ...READER_OPTIONS, tryHarder: false, returnErrors: true }),
  /** A QR code seen but not read, from its crop scaled up twice. */
  crop: bindingOptions(READER_OPTIONS),
  /** The second look for 1D codes: quick row scans of the smoothed frame, no rotation. */
  bars: bindingOptions({ formats: ['Code128', 'EAN-13', 'EAN-8', 'UPC-A', 'UPC-E'], tryHarder: false, tryRotate: false, tryInvert: true, maxNumberOfSymbols: 1 }),
};
/** Rows averaged for the 1D second look: a tenth of a typical on-screen bar height at 640x480. */
const BAR_SMOOTHING = 6;

/** Gray or RGBA frame to the RGBA ImageData shape readBarcodes takes. */
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

/** zxing-wasm as it comes, through its public readBarcodes: the benchmark's reference. */
export async function decodeWithZxingWasm(frame: RawFrame, options: ReaderOptions = READER_OPTIONS): Promise<Decoded | undefined> {
  await prepareZxingWasm();
  return firstValid(await readBarcodes(toImageData(frame), options));
}

const firstValid = (results: Array<Pick<ZXingReadResult, 'isValid' | 'text' | 'format'>>): Decoded | undefined => {
  const hit = results.find((r) => r.isValid);
  return hit ? { text: hit.text, symbology: SYMBOLOGY[hit.format] ?? 'other' } : undefined;
};

/**
 * scanpay's decoder: one quick zxing pass over the frame's luminance, then one second look
 * where it can help. A QR code that was found but failed its checksum (small modules, a
 * dim screen) is read again from its crop scaled up twice. A frame where nothing was seen
 * gets one quick 1D pass after averaging along the bars (noise, moiré and dark mode break
 * Code 128 row scans), and no more: most frames from a camera show no code at all, and
 * each costs the quick pass and that 1D pass. See `npm run bench:decode` for the figures.
 */
export async function decodeFrame(frame: RawFrame): Promise<Decoded | undefined> {
  const gray = toLuminance(frame);
  const { width, height } = frame;
  const results = await readGray(gray, width, height, PASSES.quick);
  const hit = firstValid(results);
  if (hit) return hit;
  const seen = results.find((r) => !r.isValid && r.format.includes('QR'));
  if (!seen) return firstValid(await readGray(smoothAlongBars(gray, width, height, BAR_SMOOTHING), width, height, PASSES.bars));
  const crop = upscaledCrop(gray, width, height, around(seen.position, width, height));
  return firstValid(await readGray(crop.gray, crop.width, crop.height, PASSES.crop));
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

/** ReaderOptions in the shape zxing-wasm's binding takes (what readBarcodes does inside). */
export function bindingOptions(o: ReaderOptions): ZXingReaderOptions {
  const all = { ...defaultReaderOptions, ...o };
  return {
    ...all,
    formats: all.formats.join(','),
    binarizer: BINARIZERS.indexOf(all.binarizer),
    eanAddOnSymbol: EAN_ADD_ON_SYMBOLS.indexOf(all.eanAddOnSymbol),
    textMode: TEXT_MODES.indexOf(all.textMode),
    characterSet: CHARACTER_SETS.indexOf(all.characterSet),
  };
}

export type GrayResult = Pick<ZXingReadResult, 'isValid' | 'text' | 'format' | 'position'>;

/**
 * Reads an 8-bit luminance image. readBarcodes takes RGBA and turns it back into luminance
 * in JS; a camera's gray frame would be widened to RGBA only to be narrowed again, so the
 * luminance goes straight into the wasm heap (zxing-wasm 3's own path after that step).
 */
export async function readGray(gray: Uint8Array | Uint8ClampedArray, width: number, height: number, options: ZXingReaderOptions): Promise<GrayResult[]> {
  const zxing = await prepareZxingWasm();
  const at = zxing._malloc(gray.length);
  if (!at) throw new Error(`zxing-wasm could not allocate ${gray.length} bytes`);
  let found;
  try {
    zxing.HEAPU8.set(gray, at);
    found = zxing.readBarcodesFromPixmap(at, width, height, options);
  } finally {
    zxing._free(at);
  }
  try {
    const out: GrayResult[] = [];
    for (let i = 0; i < found.size(); i++) {
      const { isValid, text, format, position } = found.get(i)!;
      out.push({ isValid, text, format, position });
    }
    return out;
  } finally {
    found.delete();
  }
}
