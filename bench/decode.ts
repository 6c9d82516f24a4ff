/**
 * Decode benchmark, on a generated hard set of phone screens as a till's camera sees them
 * (perspective, blur, moiré, glare, low contrast, noise, small codes, dark mode; QR and
 * Code 128). In the same run:
 * - read rate and time per frame of scanpay's decoder (zxing-wasm on the decoder thread,
 *   as the image and camera sources use it), zxing-wasm and @zxing/library on the main
 *   thread, and Debian's zbarimg;
 * - the event-loop delay (p99, monitorEventLoopDelay) while frames without a code stream
 *   in at 10 per second, decoded on the main thread as before versus on the decoder thread.
 *
 *   npm run bench:decode              # every decoder, 40 codeless frames
 *   npm run bench:decode -- --quick   # scanpay and zxing-wasm only, 10 codeless frames
 *
 * zbarimg runs as one process per image, as a capture tool calling it would, so its time
 * includes process start. The in-process decoders first decode the whole set once untimed
 * (JIT, and wasm tier-up, which a fresh decoder thread goes through again), then take
 * turns on each frame, in an order that rotates, so a burst of load on this shared machine
 * falls on all of them alike.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { ZXING_WASM_VERSION } from 'zxing-wasm/reader';
import { systemClock } from '../agent/clock.ts';
import { createSource } from '../drivers/create-source.ts';
import { DECODER_NICER_BY, DecoderWorker } from '../drivers/image/decoder-client.ts';
import { FrameDecoder } from '../drivers/image/decoder.ts';
import { decodeFrame, decodeWithZxingWasm, prepareZxingWasm } from '../drivers/image/zxing-wasm.ts';
import {
  barcodeFrame,
  blurred,
  glare,
  jpegBytes,
  lowContrast,
  moire,
  noisy,
  onCanvas,
  perspective,
  phoneScreen,
  pngBytes,
  qrFrame,
  rotated,
  scaled,
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
  close?(): Promise<void>;
}

const W = 640;
const H = 480;
const QR_CODES = ['134567890123456789', '281234567890123456', '6212345678901234567', '0123456789012345678', 'https://qr.alipay.com/bax08431xqzvyw1pt8ki00e6'];
const BAR_CODES = ['134567890123456789', '281234567890123456', '0123456789012345678'];

/** A phone held in front of the camera: its screen in perspective, `tilt` 0..1. */
function held(screen: GrayFrame, tilt: number, size = 0.62, background = 90): GrayFrame {
  const aspect = screen.height / screen.width;
  const w = size * (H / W) / aspect;
  const cx = 0.5;
  const top = 0.5 - size / 2;
  const bottom = 0.5 + size / 2;
  const t = tilt * w * 0.35;
  return perspective(
    screen,
    W,
    H,
    [
      [cx - w / 2 + t, top + tilt * 0.06],
      [cx + w / 2 - t * 0.2, top],
      [cx + w / 2 + t * 0.1, bottom],
      [cx - w / 2 - t * 0.3, bottom - tilt * 0.04],
    ],
    background,
  );
}

export async function hardSet(): Promise<Sample[]> {
  const samples: Sample[] = [];
  QR_CODES.forEach((code, i) => {
    const seed = i + 1;
    const screen = phoneScreen(qrFrame(code, 6));
    const dark = phoneScreen(qrFrame(code, 6), true);
    const variants: Array<[string, GrayFrame]> = [
      ['perspective', held(screen, 0.8)],
      ['perspective + blur', blurred(held(screen, 0.6), 1)],
      ['moiré', noisy(moire(held(screen, 0.2), 3.1, 8 + i, 0.45), 12, seed)],
      ['glare', glare(held(screen, 0.3), 0.45, 0.4, 70, 170 + 10 * i)],
      ['low contrast (dim screen)', noisy(lowContrast(held(screen, 0.3, 0.62, 120), 105, 150), 14, seed)],
      ['noise', noisy(held(screen, 0.4), 90, seed)],
      ['small code', noisy(held(screen, 0.3, 0.3), 16, seed)],
      ['dark mode + perspective', held(dark, 0.7, 0.62, 60)],
      ['dark mode + moiré + noise', noisy(moire(held(dark, 0.3, 0.62, 60), 3.4, 12, 0.5), 30, seed)],
      ['out of focus', blurred(held(screen, 0.2), 3)],
      ['small + JPEG q30', fromJpeg(noisy(held(screen, 0.5, 0.36), 10, seed), 30)],
      ['rotated + glare', glare(onCanvas(rotated(scaled(screen, 0.55), 35 + 5 * i), W, H, 90), 0.55, 0.5, 60, 150)],
    ];
    for (const [name, frame] of variants) samples.push({ name: `QR ${name}`, expected: code, frame });
  });
  for (const [i, code] of BAR_CODES.entries()) {
    const seed = 20 + i;
    const bar = await barcodeFrame('code128', code, 3);
    const screen = phoneScreen(bar, false, 1.3);
    const dark = phoneScreen(bar, true, 1.3);
    const variants: Array<[string, GrayFrame]> = [
      ['perspective', held(screen, 0.7, 0.5)],
      ['blur', blurred(held(screen, 0.2, 0.5), 1)],
      ['moiré', noisy(moire(held(screen, 0.2, 0.5), 3.1, 10, 0.4), 12, seed)],
      ['glare', glare(held(screen, 0.3, 0.5), 0.5, 0.5, 60, 160)],
      ['low contrast + noise', noisy(lowContrast(held(screen, 0.3, 0.5, 120), 100, 150), 16, seed)],
      ['small code', held(screen, 0.2, 0.32)],
      ['dark mode', held(dark, 0.4, 0.5, 60)],
      ['noise', noisy(held(screen, 0.4, 0.5), 60, seed)],
    ];
    for (const [name, frame] of variants) samples.push({ name: `Code 128 ${name}`, expected: code, frame });
  }
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

/** Frames a camera sends when no phone is held up: the counter, a hand, shadows. */
export function codeless(count: number): GrayFrame[] {
  return Array.from({ length: count }, (_, i) => {
    const base = onCanvas(blurred(noisy(onCanvas(phoneScreen({ data: new Uint8ClampedArray(200 * 200).fill(235), width: 200, height: 200, format: 'gray' }), 300, 400, 120), 60, i + 1), 1), 1280, 720, 110);
    return noisy(glare(base, 0.3 + 0.02 * i, 0.4, 120, 80), 25, 100 + i);
  });
}

function scanpayDecoder(nicerBy = DECODER_NICER_BY): Decoder {
  const worker = new DecoderWorker('zxing-wasm', { nicerBy });
  const name = nicerBy === DECODER_NICER_BY ? 'scanpay decoder (zxing-wasm, decoder thread)' : `scanpay decoder, thread nicer by ${nicerBy}`;
  return { name, decode: async (s) => (await worker.decode(s.frame))?.text, close: () => worker.close() };
}

/** The same decoder without the thread: what the decoding costs, apart from the hop. */
function scanpayInThread(): Decoder {
  return { name: 'scanpay decoder, on the main thread', decode: async (s) => (await decodeFrame(s.frame))?.text };
}

function zxingLibrary(): Decoder {
  const decoder = new FrameDecoder();
  return { name: '@zxing/library (main thread)', decode: async (s) => decoder.decode(s.frame)?.text };
}

async function zxingWasm(): Promise<Decoder> {
  const name = `zxing-wasm ${ZXING_WASM_VERSION} (main thread)`;
  try {
    await prepareZxingWasm();
  } catch (e) {
    return { name, unavailable: `could not load its wasm: ${e instanceof Error ? e.message : String(e)}`, decode: async () => undefined };
  }
  return { name, decode: async (s) => (await decodeWithZxingWasm(s.frame))?.text };
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

export interface LoopDelayRow {
  name: string;
  /** Event-loop delay percentiles in ms while codeless frames stream in. */
  p50: number;
  p99: number;
  max: number;
  /** Main-thread time per frame (event-loop utilisation): the work a POS request can queue behind. */
  busyMs: number;
  /** Time one codeless frame took to decode, median; unknown for a source. */
  frameMs?: number;
}

/** Starts recording the event loop's delay and busy time; the returned function stops it. */
function watchLoop(frames: number): () => Omit<LoopDelayRow, 'name'> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const start = performance.eventLoopUtilization();
  histogram.enable();
  return () => {
    histogram.disable();
    const ms = (ns: number) => ns / 1e6;
    const busy = performance.eventLoopUtilization(start).active;
    return { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max), busyMs: busy / frames };
  };
}

/** Waits out the rest of a frame's period at `fps`. */
const untilNext = (started: number, fps: number) => new Promise((r) => setTimeout(r, Math.max(0, started + 1000 / fps - performance.now())));

/**
 * Streams codeless frames at `fps` and records the event-loop delay: what the POS API and
 * the payment machine would wait for meanwhile.
 */
export async function loopDelay(name: string, frames: GrayFrame[], decode: (f: GrayFrame) => Promise<unknown>, fps = 10): Promise<LoopDelayRow> {
  await decode(frames[0]!); // warm-up
  const times: number[] = [];
  const stop = watchLoop(frames.length);
  for (const frame of frames) {
    const t0 = performance.now();
    await decode(frame);
    times.push(performance.now() - t0);
    await untilNext(t0, fps);
  }
  return { name, ...stop(), frameMs: median(times) };
}

/**
 * The same stream through a real `pipe:` source: the bytes arrive in 64 KiB pieces, as
 * from ffmpeg, and are cut into frames, handed to the decoder thread and decoded as the
 * agent would. What stays on the main thread is what a POS request waits behind.
 */
export async function sourceLoopDelay(frames: GrayFrame[], fps = 10): Promise<LoopDelayRow> {
  const { width, height } = frames[0]!;
  const stdin = new PassThrough();
  const source = createSource(`pipe:-?width=${width}&height=${height}&format=gray`, { clock: systemClock, stdin });
  const ended = new Promise<void>((resolve) => source.on('status', (e) => e.status === 'disconnected' && resolve()));
  await source.open();
  const stop = watchLoop(frames.length);
  for (const frame of frames) {
    const t0 = performance.now();
    const bytes = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
    for (let i = 0; i < bytes.length; i += 65536) stdin.write(bytes.subarray(i, i + 65536));
    await untilNext(t0, fps);
  }
  stdin.end();
  await ended;
  const row = { name: `scanpay: a pipe: source, ${width}x${height}`, ...stop() };
  await source.close();
  return row;
}

/** The frame's top-left quarter: a 640x360 frame from a 1280x720 one. */
const halfSize = (f: GrayFrame): GrayFrame => {
  const width = f.width >> 1;
  const height = f.height >> 1;
  const data = new Uint8ClampedArray(width * height);
  for (let y = 0; y < height; y++) data.set(f.data.subarray(y * f.width, y * f.width + width), y * width);
  return { data, width, height, format: 'gray' };
};

/** Runs every decoder over the hard set; `npm run bench` reads the rows, main() prints them. */
export async function decodeBench(o: { loopFrames?: number; quick?: boolean } = {}): Promise<{ samples: number; rows: DecodeRow[]; loop: LoopDelayRow[] }> {
  const samples = await hardSet();
  const dir = mkdtempSync(join(tmpdir(), 'scanpay-bench-'));
  const decoders: Decoder[] = [];
  try {
    const files = samples.map((s, i) => {
      const file = join(dir, `${String(i).padStart(3, '0')}.png`);
      writeFileSync(file, pngBytes(s.frame));
      return file;
    });
    decoders.push(scanpayDecoder(), await zxingWasm(), scanpayInThread(), scanpayDecoder(0), ...(o.quick ? [] : [zxingLibrary(), zbarimg()]));
    const running = decoders.filter((d) => !d.unavailable);
    for (const d of running) for (const [i, s] of samples.entries()) await d.decode(s, files[i]!);
    const times = running.map((): number[] => []);
    const misses = running.map((): string[] => []);
    for (const [i, s] of samples.entries()) {
      for (let k = 0; k < running.length; k++) {
        const j = (i + k) % running.length;
        const t0 = performance.now();
        const text = await running[j]!.decode(s, files[i]!);
        times[j]!.push(performance.now() - t0);
        if (text !== s.expected) misses[j]!.push(s.name);
      }
    }
    const rows: DecodeRow[] = decoders.map((d) => {
      const j = running.indexOf(d);
      if (j < 0) return { name: d.name, note: d.unavailable };
      const ms = times[j]!;
      return { name: d.name, ms: median(ms), mean: ms.reduce((a, b) => a + b, 0) / ms.length, ok: samples.length - misses[j]!.length, misses: misses[j]! };
    });

    const frames = codeless(o.loopFrames ?? (o.quick ? 10 : 40));
    const worker = new DecoderWorker('zxing-wasm');
    const level = new DecoderWorker('zxing-wasm', { nicerBy: 0 });
    const workerJs = new DecoderWorker('zxing-js');
    await Promise.all([worker.ready(), level.ready(), workerJs.ready()]);
    const inThread = new FrameDecoder();
    const loop = [
      await loopDelay('nothing decoding (this machine, baseline)', frames, async () => undefined),
      ...(o.quick ? [] : [await loopDelay('@zxing/library on the main thread (before)', frames, async (f) => inThread.decode(f))]),
      await loopDelay('zxing-wasm on the main thread', frames, (f) => decodeWithZxingWasm(f)),
      await loopDelay('scanpay: zxing-wasm on the decoder thread', frames, (f) => worker.decode(f)),
      await loopDelay('scanpay: decoder thread nicer by 0', frames, (f) => level.decode(f)),
      ...(o.quick ? [] : [await loopDelay('scanpay: @zxing/library on the decoder thread', frames, (f) => workerJs.decode(f))]),
      await sourceLoopDelay(frames),
      // A quarter of the pixels: main-thread time that shrinks with them is work that grows with frame size.
      await sourceLoopDelay(frames.map((f) => halfSize(f))),
    ];
    await Promise.all([worker.close(), level.close(), workerJs.close()]);
    return { samples: samples.length, rows, loop };
  } finally {
    for (const d of decoders) await d.close?.();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const { samples: count, rows, loop } = await decodeBench({ quick });
  const out = (s: string) => void process.stdout.write(`${s}\n`);
  const pad = (s: string, n: number) => s.padEnd(n);
  const base = rows.find((r) => r.name.startsWith('zxing-wasm') && r.ms !== undefined);
  out(`decode benchmark: ${count} generated phone screens as a camera sees them (perspective, blur, moiré, glare, low contrast, noise, small codes, dark mode; QR and Code 128), 640x480\n`);
  out(`${pad('decoder', 48)}${pad('read rate', 16)}${pad('median ms/frame', 17)}${pad('mean ms/frame', 15)}median vs zxing-wasm`);
  for (const r of rows) {
    if (r.ms === undefined) {
      out(`${pad(r.name, 48)}${r.note}`);
      continue;
    }
    const rate = `${r.ok}/${count} (${Math.round((100 * r.ok!) / count)}%)`;
    out(`${pad(r.name, 48)}${pad(rate, 16)}${pad(r.ms.toFixed(2), 17)}${pad(r.mean!.toFixed(2), 15)}${base ? `${(r.ms / base.ms!).toFixed(2)}x` : ''}`);
  }
  out('\nmissed (image kind x count):');
  for (const r of rows) {
    if (!r.misses?.length) continue;
    const counts = r.misses.reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<string, number>());
    out(`  ${r.name}: ${[...counts].map(([n, c]) => `${n} x${c}`).join(', ')}`);
  }
  out(`\nevent-loop delay while frames without a code (1280x720 unless named) stream in at 10/s (target p99 < 20 ms)`);
  out(`${pad('decoding', 48)}${pad('p50 ms', 10)}${pad('p99 ms', 10)}${pad('max ms', 10)}${pad('main thread ms/frame', 22)}median ms/frame`);
  for (const l of loop) out(`${pad(l.name, 48)}${pad(l.p50.toFixed(1), 10)}${pad(l.p99.toFixed(1), 10)}${pad(l.max.toFixed(1), 10)}${pad(l.busyMs.toFixed(2), 22)}${l.frameMs?.toFixed(1) ?? '-'}`);
}

// Run as `npm run bench:decode`; imported by bench/run.ts without printing.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
