/**
 * Decode benchmark: time per frame and success rate of @zxing/library (through scanpay's
 * FrameDecoder, which the image driver uses) on a generated set of hard images, beside
 * zxing-wasm (ZXing C++) and Debian's zbarimg, in the same run.
 *
 *   npm run bench:decode
 *
 * zbarimg runs as one process per image, as a capture tool calling it would, so its
 * time includes process start; the in-process decoders are timed after one warm-up pass.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { prepareZXingModule, readBarcodes, ZXING_WASM_VERSION, type ReaderOptions } from 'zxing-wasm/reader';
import { FrameDecoder } from '../drivers/image/decoder.ts';
import {
  barcodeFrame,
  inverted,
  jpegBytes,
  lowContrast,
  noisy,
  onCanvas,
  pngBytes,
  qrFrame,
  rotated,
  scaled,
  toRgba,
  type GrayFrame,
} from '../test/drivers/support/synthetic-images.ts';

interface Sample {
  name: string;
  expected: string;
  frame: GrayFrame;
}

interface Decoder {
  name: string;
  /** Undefined when this decoder cannot run here; the reason is printed instead. */
  unavailable?: string;
  decode(sample: Sample, file: string): Promise<string | undefined>;
}

const CODES = ['134567890123456789', '281234567890123456', '6212345678901234567', '0123456789012345678', 'fpA1b2C3d4E5f6G7h8'];

async function hardSet(): Promise<Sample[]> {
  const samples: Sample[] = [];
  CODES.forEach((code, i) => {
    const qr = qrFrame(code, 4);
    const seed = i + 1;
    const variants: Array<[string, GrayFrame]> = [
      ['tiny (1.6 px/module)', onCanvas(scaled(qr, 0.4), 320, 240)],
      ['rotated 37deg', onCanvas(rotated(qr, 37 + i), 360, 360)],
      ['inverted + noise', noisy(onCanvas(inverted(qr), 320, 240, 40), 60, seed)],
      ['low contrast 120-150', onCanvas(lowContrast(qr, 120, 150), 320, 240, 135)],
      ['heavy noise', noisy(onCanvas(qr, 320, 240), 110, seed)],
      ['small + rotated + noise', noisy(onCanvas(rotated(scaled(qr, 0.5), 20 + 5 * i), 320, 240), 50, seed)],
      ['glare (washed out) + rotated', onCanvas(rotated(lowContrast(qr, 170, 215), 60), 400, 400, 210)],
      ['jpeg q25 small', fromJpeg(onCanvas(scaled(qr, 0.5), 320, 240), 25)],
    ];
    for (const [name, frame] of variants) samples.push({ name: `QR ${name}`, expected: code, frame });
  });
  const ean = await barcodeFrame('ean13', '4006381333931', 2);
  const c128 = await barcodeFrame('code128', '281234567890123456', 2);
  samples.push(
    { name: 'EAN-13 noisy', expected: '4006381333931', frame: noisy(onCanvas(ean, 400, 200), 80, 9) },
    { name: 'EAN-13 rotated 8deg', expected: '4006381333931', frame: onCanvas(rotated(ean, 8), 420, 260) },
    { name: 'EAN-13 low contrast', expected: '4006381333931', frame: onCanvas(lowContrast(ean, 110, 150), 400, 200, 130) },
    { name: 'Code 128 upright + noise', expected: '281234567890123456', frame: noisy(onCanvas(rotated(c128, 90), 300, 400), 60, 4) },
    { name: 'Code 128 inverted', expected: '281234567890123456', frame: onCanvas(inverted(c128), 420, 200, 30) },
  );
  return samples;
}

function fromJpeg(frame: GrayFrame, quality: number): GrayFrame {
  // Round-trip through a real JPEG encoder so the blocking artefacts are the real ones.
  const bytes = jpegBytes(frame, quality);
  const decoded = createRequire(import.meta.url)('jpeg-js').decode(bytes, { useTArray: true }) as { data: Uint8Array; width: number; height: number };
  const data = new Uint8ClampedArray(decoded.width * decoded.height);
  for (let i = 0; i < data.length; i++) data[i] = decoded.data[i * 4]!;
  return { data, width: decoded.width, height: decoded.height, format: 'gray' };
}

function zxingLibrary(): Decoder {
  const decoder = new FrameDecoder();
  return { name: '@zxing/library (FrameDecoder)', decode: async (s) => decoder.decode(s.frame)?.text };
}

async function zxingWasm(): Promise<Decoder> {
  const name = `zxing-wasm ${ZXING_WASM_VERSION}`;
  try {
    // By default it fetches the .wasm from a CDN, which fails offline: hand it the packaged file.
    const wasm = readFileSync(createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm'));
    await prepareZXingModule({ overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer }, fireImmediately: true });
  } catch (e) {
    return { name, unavailable: `could not load its wasm: ${e instanceof Error ? e.message : String(e)}`, decode: async () => undefined };
  }
  const options: ReaderOptions = { formats: ['QRCode', 'Code128', 'EAN-13', 'EAN-8', 'UPC-A', 'UPC-E'], tryHarder: true, tryRotate: true, tryInvert: true, maxNumberOfSymbols: 1 };
  return {
    name,
    decode: async (s) => {
      const rgba = toRgba(s.frame);
      const results = await readBarcodes({ data: rgba.data, width: rgba.width, height: rgba.height, colorSpace: 'srgb' } as ImageData, options);
      return results.find((r) => r.isValid)?.text;
    },
  };
}

function zbarimg(): Decoder {
  const probe = spawnSync('zbarimg', ['--version'], { encoding: 'utf8' });
  const name = probe.error ? 'zbarimg' : `zbarimg ${probe.stdout.trim()} (per process)`;
  if (probe.error) return { name, unavailable: 'not installed (apt-get install zbar-tools)', decode: async () => undefined };
  return {
    name,
    decode: async (_s, file) => {
      const r = spawnSync('zbarimg', ['-q', '--raw', file], { encoding: 'utf8' });
      return r.status === 0 ? r.stdout.split('\n')[0] : undefined;
    },
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export interface DecodeRow {
  name: string;
  ms?: number;
  mean?: number;
  ok?: number;
  note?: string;
  misses?: string[];
}

/** Runs every decoder over the hard set; `npm run bench` reads the rows, main() prints them. */
export async function decodeBench(): Promise<{ samples: number; rows: DecodeRow[] }> {
  const samples = await hardSet();
  const dir = mkdtempSync(join(tmpdir(), 'scanpay-bench-'));
  try {
    const files = samples.map((s, i) => {
      const file = join(dir, `${String(i).padStart(3, '0')}.png`);
      writeFileSync(file, pngBytes(s.frame));
      return file;
    });
    const decoders = [zxingLibrary(), await zxingWasm(), zbarimg()];
    const rows: DecodeRow[] = [];
    for (const d of decoders) {
      if (d.unavailable) {
        rows.push({ name: d.name, note: d.unavailable });
        continue;
      }
      await d.decode(samples[0]!, files[0]!); // warm-up: JIT, wasm instantiation
      const times: number[] = [];
      const misses: string[] = [];
      for (const [i, s] of samples.entries()) {
        const t0 = performance.now();
        const text = await d.decode(s, files[i]!);
        times.push(performance.now() - t0);
        if (text !== s.expected) misses.push(s.name);
      }
      rows.push({ name: d.name, ms: median(times), mean: times.reduce((a, b) => a + b, 0) / times.length, ok: samples.length - misses.length, misses });
    }
    return { samples: samples.length, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { samples: count, rows } = await decodeBench();
  {
    const base = rows[0]!;
    const pad = (s: string, n: number) => s.padEnd(n);
    process.stdout.write(`decode benchmark: ${count} generated hard images (QR payment codes scaled, rotated, inverted, noisy, low-contrast, JPEG; EAN-13; Code 128)\n\n`);
    process.stdout.write(`${pad('decoder', 40)}${pad('median ms/frame', 17)}${pad('mean ms/frame', 15)}${pad('success', 16)}median time vs @zxing/library\n`);
    for (const r of rows) {
      if (r.ms === undefined) {
        process.stdout.write(`${pad(r.name, 40)}${r.note}\n`);
        continue;
      }
      const rate = `${r.ok}/${count} (${Math.round((100 * r.ok!) / count)}%)`;
      process.stdout.write(`${pad(r.name, 40)}${pad(r.ms.toFixed(2), 17)}${pad(r.mean!.toFixed(2), 15)}${pad(rate, 16)}${(r.ms / base.ms!).toFixed(2)}x\n`);
    }
    process.stdout.write('\nmissed (image kind x count):\n');
    for (const r of rows) {
      if (!r.misses?.length) continue;
      const counts = r.misses.reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<string, number>());
      process.stdout.write(`  ${r.name}: ${[...counts].map(([n, c]) => `${n} x${c}`).join(', ')}\n`);
    }
  }
}

// Run as `npm run bench:decode`; imported by bench/run.ts without printing.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
