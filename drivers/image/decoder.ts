/**
 * Decodes QR, Code 128 and EAN/UPC from one frame with @zxing/library. A camera sees codes
 * on phone screens: dark-mode wallets invert them, cashiers hold them sideways, screens
 * glare. So each frame gets a few attempts, cheapest first, and the first hit wins.
 */
import {
  BarcodeFormat,
  BinaryBitmap,
  DecodeHintType,
  GlobalHistogramBinarizer,
  HybridBinarizer,
  type LuminanceSource,
  MultiFormatReader,
  RGBLuminanceSource,
} from '@zxing/library';
import type { Symbology } from '../source.ts';
import { toLuminance, type Decoded, type RawFrame } from './frame.ts';

export { BYTES_PER_PIXEL, toLuminance, type Decoded, type PixelFormat, type RawFrame } from './frame.ts';

const SYMBOLOGY: Partial<Record<BarcodeFormat, Symbology>> = {
  [BarcodeFormat.QR_CODE]: 'QR Code',
  [BarcodeFormat.CODE_128]: 'Code 128',
  [BarcodeFormat.EAN_13]: 'EAN-13',
  [BarcodeFormat.EAN_8]: 'EAN-8',
  [BarcodeFormat.UPC_A]: 'UPC-A',
  [BarcodeFormat.UPC_E]: 'UPC-E',
};

function rotate90(gray: Uint8ClampedArray, width: number, height: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(gray.length);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[x * height + (height - 1 - y)] = gray[y * width + x]!;
  return out;
}

/** Spreads a washed-out frame (glare, dim screen) over the full range before binarizing. */
function stretchContrast(gray: Uint8ClampedArray): Uint8ClampedArray {
  let lo = 255;
  let hi = 0;
  for (const v of gray) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (hi - lo < 8 || (lo === 0 && hi === 255)) return gray;
  const scale = 255 / (hi - lo);
  return gray.map((v) => (v - lo) * scale);
}

/** Every second pixel of every second row, averaged: modules half the size. */
function halve(gray: Uint8ClampedArray, width: number, height: number): { gray: Uint8ClampedArray; width: number; height: number } {
  const w = width >> 1;
  const h = height >> 1;
  const out = new Uint8ClampedArray(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = 2 * y * width + 2 * x;
      out[y * w + x] = (gray[i]! + gray[i + 1]! + gray[i + width]! + gray[i + width + 1]!) >> 2;
    }
  }
  return { gray: out, width: w, height: h };
}

export class FrameDecoder {
  readonly #reader = new MultiFormatReader();
  /**
   * zxing's QR detector misses some perfectly clean codes drawn with large modules (seen
   * on about 1 in 200 generated wallet codes at 6 px per module); read as a pure barcode
   * (a code filling the image, as on a phone screenshot) they decode every time.
   */
  readonly #pure = new MultiFormatReader();

  constructor() {
    const hints = new Map<DecodeHintType, unknown>([
      [DecodeHintType.TRY_HARDER, true],
      [DecodeHintType.POSSIBLE_FORMATS, Object.keys(SYMBOLOGY).map(Number)],
    ]);
    this.#reader.setHints(hints);
    this.#pure.setHints(
      new Map<DecodeHintType, unknown>([
        [DecodeHintType.PURE_BARCODE, true],
        [DecodeHintType.POSSIBLE_FORMATS, [BarcodeFormat.QR_CODE]],
      ]),
    );
  }

  /** The first code found in the frame, or undefined when there is none. */
  decode(frame: RawFrame): Decoded | undefined {
    const gray = toLuminance(frame);
    const { width, height } = frame;
    const upright = new RGBLuminanceSource(gray, width, height);
    const attempts: Array<() => LuminanceSource> = [
      () => upright,
      () => upright.invert(),
      () => new RGBLuminanceSource(stretchContrast(gray), width, height),
      // 1D readers scan rows; a barcode held upright needs the frame turned.
      () => new RGBLuminanceSource(rotate90(gray, width, height), height, width),
      // Large modules (a phone held close) can defeat the QR detector; half size does not.
      () => {
        const half = halve(gray, width, height);
        return new RGBLuminanceSource(half.gray, half.width, half.height);
      },
    ];
    for (const source of attempts) {
      const hit = this.#try(this.#reader, source(), HybridBinarizer) ?? this.#try(this.#reader, source(), GlobalHistogramBinarizer);
      if (hit) return hit;
    }
    return this.#try(this.#pure, upright, HybridBinarizer);
  }

  #try(reader: MultiFormatReader, source: LuminanceSource, Binarizer: typeof HybridBinarizer | typeof GlobalHistogramBinarizer): Decoded | undefined {
    if (source.getWidth() < 2 || source.getHeight() < 2) return undefined;
    try {
      const result = reader.decodeWithState(new BinaryBitmap(new Binarizer(source)));
      return { text: result.getText(), symbology: SYMBOLOGY[result.getBarcodeFormat()] ?? 'other' };
    } catch {
      // zxing signals "no code here" by throwing; that is the common case, not an error.
      return undefined;
    } finally {
      reader.reset();
    }
  }
}
