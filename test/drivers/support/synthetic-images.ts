/**
 * Makes test images of codes the way a camera would see them: QR codes from the `qrcode`
 * package, 1D barcodes from `bwip-js`, then scaled, rotated, inverted, noisy or washed out.
 * Used by the image tests and by bench/decode.ts. All randomness is seeded.
 */
import bwipjs from 'bwip-js';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import type { RawFrame } from '../../../drivers/image/decoder.ts';

export type GrayFrame = RawFrame & { format: 'gray'; data: Uint8ClampedArray };

const gray = (width: number, height: number, fill = 255): GrayFrame => ({ data: new Uint8ClampedArray(width * height).fill(fill), width, height, format: 'gray' });

/** A frame with no code in it. */
export const blank = (width: number, height: number): GrayFrame => gray(width, height, 200);

export function qrFrame(text: string, moduleSize = 4, quietModules = 4): GrayFrame {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const side = (modules.size + quietModules * 2) * moduleSize;
  const f = gray(side, side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const my = Math.floor(y / moduleSize) - quietModules;
      const mx = Math.floor(x / moduleSize) - quietModules;
      if (my >= 0 && mx >= 0 && my < modules.size && mx < modules.size && modules.get(my, mx)) f.data[y * side + x] = 0;
    }
  }
  return f;
}

/** A 1D barcode (bwip-js names: ean13, code128, upca, ean8) with a quiet zone. */
export async function barcodeFrame(bcid: string, text: string, scale = 2): Promise<GrayFrame> {
  const png = await bwipjs.toBuffer({ bcid, text, scale, height: 12, includetext: false, paddingwidth: 12, paddingheight: 6, backgroundcolor: 'FFFFFF' });
  return toGray(PNG.sync.read(png));
}

function toGray(img: { data: Uint8Array; width: number; height: number }): GrayFrame {
  const f = gray(img.width, img.height);
  for (let i = 0; i < f.data.length; i++) f.data[i] = (img.data[i * 4]! + img.data[i * 4 + 1]! + img.data[i * 4 + 2]!) / 3;
  return f;
}

/** Bilinear resize by `factor`. */
export function scaled(src: GrayFrame, factor: number): GrayFrame {
  const w = Math.max(1, Math.round(src.width * factor));
  const h = Math.max(1, Math.round(src.height * factor));
  const f = gray(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) f.data[y * w + x] = sample(src, (x + 0.5) / factor - 0.5, (y + 0.5) / factor - 0.5);
  }
  return f;
}

function sample(src: GrayFrame, x: number, y: number, outside = 255): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const at = (px: number, py: number) => (px < 0 || py < 0 || px >= src.width || py >= src.height ? outside : src.data[py * src.width + px]!);
  const fx = x - x0;
  const fy = y - y0;
  return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
}

/** Rotates about the centre onto a canvas big enough to hold the result. */
export function rotated(src: GrayFrame, degrees: number): GrayFrame {
  const a = (degrees * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  const w = Math.ceil(Math.abs(src.width * cos) + Math.abs(src.height * sin));
  const h = Math.ceil(Math.abs(src.width * sin) + Math.abs(src.height * cos));
  const f = gray(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = x - w / 2;
      const dy = y - h / 2;
      f.data[y * w + x] = sample(src, dx * cos + dy * sin + src.width / 2, -dx * sin + dy * cos + src.height / 2);
    }
  }
  return f;
}

export const inverted = (src: GrayFrame): GrayFrame => ({ ...src, data: src.data.map((v) => 255 - v) });

/** Squeezes the range into [lo, hi]: a dim phone screen under shop lighting. */
export const lowContrast = (src: GrayFrame, lo: number, hi: number): GrayFrame => ({ ...src, data: src.data.map((v) => lo + ((hi - lo) * v) / 255) });

/** Adds seeded uniform noise of +-amount. */
export function noisy(src: GrayFrame, amount: number, seed = 1): GrayFrame {
  let s = seed >>> 0 || 1;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  return { ...src, data: src.data.map((v) => v + rand() * amount) };
}

/** Places the code on a larger background, as a camera frame would show it. */
export function onCanvas(src: GrayFrame, width: number, height: number, background = 200): GrayFrame {
  const f = gray(width, height, background);
  const ox = Math.floor((width - src.width) / 2);
  const oy = Math.floor((height - src.height) / 2);
  for (let y = 0; y < src.height; y++) {
    for (let x = 0; x < src.width; x++) {
      const tx = x + ox;
      const ty = y + oy;
      if (tx >= 0 && ty >= 0 && tx < width && ty < height) f.data[ty * width + tx] = src.data[y * src.width + x]!;
    }
  }
  return f;
}

export function toRgba(src: GrayFrame): RawFrame {
  const data = new Uint8ClampedArray(src.width * src.height * 4);
  src.data.forEach((v, i) => data.set([v, v, v, 255], i * 4));
  return { data, width: src.width, height: src.height, format: 'rgba' };
}

export function pngBytes(src: GrayFrame): Buffer {
  const png = new PNG({ width: src.width, height: src.height });
  png.data = Buffer.from(toRgba(src).data);
  return PNG.sync.write(png);
}

export function jpegBytes(src: GrayFrame, quality = 85): Buffer {
  return jpeg.encode({ data: Buffer.from(toRgba(src).data), width: src.width, height: src.height }, quality).data;
}
