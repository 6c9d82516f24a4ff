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

/**
 * Perspective: the frame as a camera sees it when the phone is tilted. `corners` are where
 * the source's top-left, top-right, bottom-right and bottom-left land, as fractions of the
 * output size; everything outside is `background`.
 */
export function perspective(src: GrayFrame, width: number, height: number, corners: Array<[number, number]>, background = 90): GrayFrame {
  const dst = corners.map(([x, y]) => [x * width, y * height] as [number, number]);
  const srcPts: Array<[number, number]> = [
    [0, 0],
    [src.width, 0],
    [src.width, src.height],
    [0, src.height],
  ];
  const h = homography(dst, srcPts);
  const f = gray(width, height, background);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const w = h[6]! * x + h[7]! * y + 1;
      const sx = (h[0]! * x + h[1]! * y + h[2]!) / w;
      const sy = (h[3]! * x + h[4]! * y + h[5]!) / w;
      if (sx >= 0 && sy >= 0 && sx < src.width && sy < src.height) f.data[y * width + x] = sample(src, sx - 0.5, sy - 0.5);
    }
  }
  return f;
}

/** The 3x3 homography (h33 = 1) taking each `from` point to its `to` point. */
function homography(from: Array<[number, number]>, to: Array<[number, number]>): number[] {
  const a: number[][] = [];
  from.forEach(([x, y], i) => {
    const [u, v] = to[i]!;
    a.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    a.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  });
  for (let c = 0; c < 8; c++) {
    let pivot = c;
    for (let r = c + 1; r < 8; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[pivot]![c]!)) pivot = r;
    [a[c], a[pivot]] = [a[pivot]!, a[c]!];
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const k = a[r]![c]! / a[c]![c]!;
      for (let j = c; j < 9; j++) a[r]![j]! -= k * a[c]![j]!;
    }
  }
  return a.map((row, i) => row[8]! / row[i]!);
}

/** Out of focus: a box blur of `radius` run twice (close to a Gaussian). */
export function blurred(src: GrayFrame, radius: number): GrayFrame {
  let data = src.data;
  for (let pass = 0; pass < 2; pass++) {
    data = boxBlur(data, src.width, src.height, radius, true);
    data = boxBlur(data, src.width, src.height, radius, false);
  }
  return { ...src, data };
}

function boxBlur(data: Uint8ClampedArray, width: number, height: number, r: number, horizontal: boolean): Uint8ClampedArray {
  const out = new Uint8ClampedArray(data.length);
  const [outer, inner] = horizontal ? [height, width] : [width, height];
  const at = (o: number, i: number) => (horizontal ? o * width + i : i * width + o);
  for (let o = 0; o < outer; o++) {
    let sum = 0;
    for (let i = -r; i <= r; i++) sum += data[at(o, Math.min(inner - 1, Math.max(0, i)))]!;
    for (let i = 0; i < inner; i++) {
      out[at(o, i)] = sum / (2 * r + 1);
      sum += data[at(o, Math.min(inner - 1, i + r + 1))]! - data[at(o, Math.max(0, i - r))]!;
    }
  }
  return out;
}

/**
 * Moiré: a camera sampling a screen's pixel grid sees slow bands of light and dark. Two
 * slightly different spatial frequencies beat against each other, darkening by up to `amount`.
 */
export function moire(src: GrayFrame, period: number, angleDeg: number, amount: number): GrayFrame {
  const a = (angleDeg * Math.PI) / 180;
  const data = src.data.map((v, i) => {
    const x = i % src.width;
    const y = Math.floor(i / src.width);
    const t = (x * Math.cos(a) + y * Math.sin(a)) / period;
    const grid = 0.5 + 0.5 * Math.cos(2 * Math.PI * t) * Math.cos(2 * Math.PI * (x / (period * 0.93)));
    return v * (1 - amount * grid);
  });
  return { ...src, data };
}

/** Glare: a bright reflection of the shop's lights over part of the screen. */
export function glare(src: GrayFrame, cx: number, cy: number, radius: number, strength: number): GrayFrame {
  const data = src.data.map((v, i) => {
    const dx = (i % src.width) - cx * src.width;
    const dy = Math.floor(i / src.width) - cy * src.height;
    return v + strength * Math.exp(-(dx * dx + dy * dy) / (2 * radius * radius));
  });
  return { ...src, data };
}

/**
 * A phone screen as the wallet app shows a code: the code on a white card (or a dark
 * one in dark mode) with the app's margins, inside the phone's black bezel.
 */
export function phoneScreen(code: GrayFrame, dark = false, heightRatio = 1.9): GrayFrame {
  const card = onCanvas(dark ? inverted(code) : code, code.width + 60, Math.round(code.height * heightRatio), dark ? 25 : 250);
  return onCanvas(card, card.width + 24, card.height + 40, 10);
}
