/**
 * Second looks at a frame where the first read found nothing. Both are cheap next to the
 * first read, and neither runs on a frame where it cannot help much.
 */

/**
 * Averages each column over 2r+1 rows. A barcode's bars run vertically on a phone held
 * level, so this keeps the bar edges and averages away the noise, moiré and JPEG blocks
 * that break the 1D readers' row scans.
 */
export function smoothAlongBars(gray: Uint8ClampedArray, width: number, height: number, r: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(gray.length);
  // Row by row with a running sum per column, so memory is read in order.
  const sums = new Uint32Array(width);
  const row = (y: number) => Math.min(height - 1, Math.max(0, y)) * width;
  for (let y = -r; y <= r; y++) for (let x = 0, i = row(y); x < width; x++, i++) sums[x]! += gray[i]!;
  // Integer rounding: storing a float in a Uint8ClampedArray takes V8's slow path.
  const scale = Math.round(65536 / (2 * r + 1));
  for (let y = 0; y < height; y++) {
    const at = y * width;
    const enter = row(y + r + 1);
    const leave = row(y - r);
    for (let x = 0; x < width; x++) {
      out[at + x] = (sums[x]! * scale + 32768) >>> 16;
      sums[x]! += gray[enter + x]! - gray[leave + x]!;
    }
  }
  return out;
}

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The crop `box` scaled up twice, bilinear: small modules become readable to the QR sampler. */
export function upscaledCrop(gray: Uint8ClampedArray, width: number, height: number, box: Box): { gray: Uint8ClampedArray; width: number; height: number } {
  const w = (box.x1 - box.x0) * 2;
  const h = (box.y1 - box.y0) * 2;
  const out = new Uint8ClampedArray(w * h);
  const at = (x: number, y: number) => gray[Math.min(height - 1, y) * width + Math.min(width - 1, x)]!;
  for (let y = 0; y < h; y++) {
    const sy = Math.max(0, box.y0 + (y + 0.5) / 2 - 0.5);
    const iy = Math.floor(sy);
    const fy = sy - iy;
    for (let x = 0; x < w; x++) {
      const sx = Math.max(0, box.x0 + (x + 0.5) / 2 - 0.5);
      const ix = Math.floor(sx);
      const fx = sx - ix;
      out[y * w + x] = (at(ix, iy) * (1 - fx) + at(ix + 1, iy) * fx) * (1 - fy) + (at(ix, iy + 1) * (1 - fx) + at(ix + 1, iy + 1) * fx) * fy;
    }
  }
  return { gray: out, width: w, height: h };
}
