/**
 * The camera source through the real ffmpeg (Debian package ffmpeg), reading a video file
 * generated here of a phone screen showing codes, as a V4L2 camera would deliver it (there
 * is no camera on this machine: the V4L2 input itself could not be tested).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../agent/clock.ts';
import { silentLogger } from '../../agent/log.ts';
import { ScannerManager, type ManagerStatus } from '../../agent/scanner-manager.ts';
import { CameraSource, ffmpegArgs } from '../../drivers/camera/camera-source.ts';
import { createSource } from '../../drivers/create-source.ts';
import type { ScanEvent, StatusEvent } from '../../drivers/source.ts';
import { barcodeFrame, blank, noisy, perspective, phoneScreen, pngBytes, qrFrame, type GrayFrame } from './support/synthetic-images.ts';

const WECHAT = '134567890123456789';
const ALIPAY = '281234567890123456';
const FPS = 10;

/** A phone held up to the camera, slightly tilted: upright for a QR code, sideways for a barcode. */
const UPRIGHT: Array<[number, number]> = [
  [0.33, 0.14],
  [0.66, 0.12],
  [0.68, 0.86],
  [0.31, 0.84],
];
const SIDEWAYS: Array<[number, number]> = [
  [0.06, 0.3],
  [0.93, 0.27],
  [0.95, 0.7],
  [0.05, 0.73],
];
const held = (screen: GrayFrame, seed: number, corners = UPRIGHT) => noisy(perspective(screen, 640, 480, corners), 12, seed);

let dir: string;
let video: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scanpay-camera-'));
  const counter = noisy(blank(640, 480), 20, 1);
  const scenes: GrayFrame[] = [counter, held(phoneScreen(qrFrame(WECHAT, 6)), 2), counter, held(phoneScreen(await barcodeFrame('code128', ALIPAY, 3), false, 1.3), 3, SIDEWAYS), counter];
  let n = 0;
  // Each scene lasts 0.8 s: a cashier holds a phone up for longer than that.
  for (const scene of scenes) for (let i = 0; i < 8; i++) writeFileSync(join(dir, `f${String(n++).padStart(3, '0')}.png`), pngBytes(scene));
  video = join(dir, 'phone.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-framerate', String(FPS), '-i', join(dir, 'f%03d.png'), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', '20', video]);
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function watch(source: { on: CameraSource['on'] }) {
  const scans: ScanEvent[] = [];
  const statuses: StatusEvent[] = [];
  source.on('scan', (e) => scans.push(e));
  const ended = new Promise<void>((resolve) =>
    source.on('status', (e) => {
      statuses.push(e);
      if (e.status === 'disconnected') resolve();
    }),
  );
  return { scans, statuses, ended };
}

describe('camera source', () => {
  it('asks ffmpeg for V4L2 at the configured rate and size, and gray frames of that size', () => {
    const o = { id: 'c', device: '/dev/video0', fps: 5, width: 640, height: 480, decoder: 'zxing-wasm' as const };
    expect(ffmpegArgs(o, true).join(' ')).toBe(
      '-hide_banner -loglevel error -nostdin -f v4l2 -framerate 5 -video_size 640x480 -i /dev/video0 -vf fps=5,scale=640:480 -f rawvideo -pix_fmt gray pipe:1',
    );
  });

  it('reads the codes shown on a phone screen in a video through ffmpeg, then reports the end', async () => {
    const source = createSource(`camera:${video}?fps=${FPS}&width=640&height=480`, { clock: systemClock });
    const { scans, statuses, ended } = watch(source);
    await source.open();
    await ended;
    await source.close();
    // The same code is in several frames: the scanner manager dedupes, the source reports each.
    expect([...new Set(scans.map((s) => s.text))]).toEqual([WECHAT, ALIPAY]);
    expect(scans.find((s) => s.text === ALIPAY)?.symbology).toBe('Code 128');
    expect(statuses.map((s) => [s.status, s.ended ?? false])).toEqual([
      ['connected', false],
      ['disconnected', true],
    ]);
  }, 60_000);

  it('retries a camera that is not there, like an unplugged scanner, and reads once it appears', async () => {
    const path = join(dir, 'later.mp4');
    const manager = new ScannerManager({
      sources: [createSource(`camera:${path}?fps=${FPS}&width=640&height=480`, { clock: systemClock })],
      clock: systemClock,
      logger: silentLogger,
      options: { dedupeWindowMs: 60_000, maxLength: 512, reconnect: { initialMs: 50, maxMs: 200, factor: 2 } },
    });
    const statuses: ManagerStatus[] = [];
    const scans: string[] = [];
    let failed!: () => void;
    const firstFailure = new Promise<void>((resolve) => (failed = resolve));
    const got = new Promise<void>((resolve) =>
      manager.on('scan', (e) => {
        scans.push(e.text);
        if (e.text === ALIPAY) resolve();
      }),
    );
    manager.on('status', (e) => {
      statuses.push(e);
      if (e.status === 'error') failed();
    });
    try {
      await manager.start();
      await firstFailure;
      expect(statuses[0]).toMatchObject({ status: 'error', error: { code: 'SCAN_DEVICE_NOT_FOUND' } });
      expect(statuses[0]?.retryAt).toBeGreaterThan(statuses[0]!.at);
      copyFileSync(video, path);
      await got;
      expect(scans).toEqual([WECHAT, ALIPAY]);
    } finally {
      await manager.stop();
    }
  }, 60_000);

  it('reports a camera that goes away mid-stream (ffmpeg fails) as a disconnect to retry', async () => {
    // Stands in for ffmpeg losing /dev/video0: one frame, then the error V4L2 gives.
    const fake = join(dir, 'ffmpeg-losing-camera');
    writeFileSync(fake, `#!/bin/sh\nhead -c ${640 * 480} /dev/zero\necho "/dev/video0: No such device" >&2\nexit 1\n`);
    chmodSync(fake, 0o755);
    const source = new CameraSource({ id: 'camera:/dev/null', device: '/dev/null', fps: 10, width: 640, height: 480, decoder: 'zxing-wasm', ffmpeg: fake }, { clock: systemClock });
    const { statuses, ended } = watch(source);
    await source.open();
    await ended;
    expect(statuses.at(-1)).toMatchObject({ status: 'disconnected', error: { code: 'SCAN_DEVICE_DISCONNECTED', message: expect.stringContaining('No such device') } });
    expect(statuses.at(-1)?.ended).toBeUndefined();
  }, 30_000);

  it('says to install ffmpeg when it is missing', async () => {
    const source = new CameraSource({ id: 'c', device: '/dev/null', fps: 10, width: 64, height: 48, decoder: 'zxing-wasm', ffmpeg: join(dir, 'no-ffmpeg-here') }, { clock: systemClock });
    await expect(source.open()).rejects.toMatchObject({ code: 'SCAN_NATIVE_LIBRARY_MISSING', message: 'camera sources need ffmpeg: apt-get install ffmpeg' });
  });
});
