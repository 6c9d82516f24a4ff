/**
 * scanpay's default decoder (zxing-wasm, drivers/image/zxing-wasm.ts) and the way frames
 * reach its thread. zxing-wasm's own readBarcodes is the reference it is checked against.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBarcodes } from 'zxing-wasm/reader';
import { isScanpayError } from '../../agent/errors.ts';
import { DECODER_NICER_BY, DecoderWorker } from '../../drivers/image/decoder-client.ts';
import { smoothAlongBars } from '../../drivers/image/enhance.ts';
import { FrameCutter } from '../../drivers/image/frame-cutter.ts';
import { READER_OPTIONS, bindingOptions, decodeFrame, decodeWithZxingWasm, readGray } from '../../drivers/image/zxing-wasm.ts';
import {
  barcodeFrame,
  blank,
  inverted,
  moire,
  noisy,
  onCanvas,
  phoneScreen,
  pngBytes,
  qrFrame,
  rotated,
  scaled,
  toRgba,
  type GrayFrame,
} from './support/synthetic-images.ts';

const WECHAT = '134567890123456789';
const ALIPAY = '281234567890123456';
const ALIPAY_URL = 'https://qr.alipay.com/bax08431xqzvyw1pt8ki00e6';
const qr = onCanvas(qrFrame(WECHAT, 4), 320, 240);

describe('reading luminance straight into zxing-wasm', () => {
  it('finds what readBarcodes finds in the same frame given as RGBA', async () => {
    const frames = [qr, noisy(rotated(qr, 20), 40, 3), inverted(qr), noisy(blank(320, 240), 40, 2)];
    for (const frame of frames) {
      const ours = await readGray(frame.data, frame.width, frame.height, bindingOptions({ ...READER_OPTIONS, returnErrors: true }));
      const theirs = await readBarcodes(toRgba(frame) as unknown as ImageData, { ...READER_OPTIONS, returnErrors: true });
      expect(ours.map((r) => [r.isValid, r.text, r.format])).toEqual(theirs.map((r) => [r.isValid, r.text, r.format]));
    }
    expect((await readGray(qr.data, qr.width, qr.height, bindingOptions(READER_OPTIONS)))[0]?.text).toBe(WECHAT);
  });
});

describe('scanpay decoder (zxing-wasm)', () => {
  it.each<[string, () => GrayFrame]>([
    ['plain', () => qr],
    ['rotated 90 degrees', () => rotated(qr, 90)],
    ['inverted (dark-mode wallet)', () => inverted(qr)],
    ['noisy', () => noisy(qr, 70, 7)],
  ])('reads a QR payment code: %s', async (_name, make) => {
    expect(await decodeFrame(make())).toEqual({ text: WECHAT, symbology: 'QR Code' });
  });

  it('reads RGBA frames as well as grayscale', async () => {
    expect((await decodeFrame(toRgba(qr)))?.text).toBe(WECHAT);
  });

  it('reads Code 128, also held upright, and product codes', async () => {
    const bar = await barcodeFrame('code128', ALIPAY);
    expect(await decodeFrame(bar)).toEqual({ text: ALIPAY, symbology: 'Code 128' });
    expect(await decodeFrame(rotated(bar, 90))).toEqual({ text: ALIPAY, symbology: 'Code 128' });
    expect(await decodeFrame(await barcodeFrame('ean13', '4006381333931'))).toEqual({ text: '4006381333931', symbology: 'EAN-13' });
  });

  it('reads a noisy on-screen Code 128 that zxing-wasm alone misses (the 1D second look)', async () => {
    const frame = noisy(onCanvas(scaled(phoneScreen(await barcodeFrame('code128', ALIPAY, 3), false, 1.3), 0.8), 640, 480, 90), 60, 21);
    expect(await decodeWithZxingWasm(frame)).toBeUndefined();
    expect(await decodeFrame(frame)).toEqual({ text: ALIPAY, symbology: 'Code 128' });
  });

  it('reads a dark-mode QR code under moiré that zxing-wasm alone misses (the crop second look)', async () => {
    const frame = noisy(moire(onCanvas(scaled(phoneScreen(qrFrame(ALIPAY_URL, 6), true), 0.45), 640, 480, 60), 3.4, 12, 0.5), 30, 5);
    expect(await decodeWithZxingWasm(frame)).toBeUndefined();
    expect(await decodeFrame(frame)).toEqual({ text: ALIPAY_URL, symbology: 'QR Code' });
  });

  it('finds nothing in a frame without a code, and refuses a frame whose buffer does not match its size', async () => {
    expect(await decodeFrame(noisy(blank(640, 480), 40))).toBeUndefined();
    await expect(decodeFrame({ data: new Uint8Array(10), width: 4, height: 4, format: 'gray' })).rejects.toThrow(/needs 16 bytes, got 10/);
  });
});

describe('smoothing along the bars', () => {
  it('averages each pixel with the r rows above and below it, the edge rows repeated', () => {
    const width = 7;
    const height = 9;
    const gray = new Uint8ClampedArray(width * height).map((_, i) => (i * 37 + (i >> 3) * 101) % 256);
    const r = 2;
    const at = (x: number, y: number) => gray[Math.min(height - 1, Math.max(0, y)) * width + x]!;
    const expected = new Uint8ClampedArray(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let d = -r; d <= r; d++) sum += at(x, y + d);
        expected[y * width + x] = Math.round(sum / (2 * r + 1));
      }
    }
    expect([...smoothAlongBars(gray, width, height, r)]).toEqual([...expected]);
  });
});

describe('frames on their way to the decoder thread', () => {
  it('cuts a stream into frames however it is chunked, each frame with a buffer of its own', () => {
    const stream = Uint8Array.from({ length: 3 * 12 + 5 }, (_, i) => i);
    for (const piece of [1, 5, 12, 13, 41]) {
      const cutter = new FrameCutter(12);
      const frames: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += piece) frames.push(...cutter.push(stream.subarray(i, i + piece)));
      expect(frames.map((f) => [...f]), `pieces of ${piece}`).toEqual([0, 1, 2].map((k) => [...stream.subarray(12 * k, 12 * k + 12)]));
      expect(new Set(frames.map((f) => f.buffer)).size).toBe(3);
      expect(frames.every((f) => f.byteOffset === 0 && f.buffer.byteLength === 12)).toBe(true);
    }
  });

  describe('the decoder thread', () => {
    let worker: DecoderWorker;
    let dir: string;
    beforeAll(() => {
      worker = new DecoderWorker('zxing-wasm');
      dir = mkdtempSync(join(tmpdir(), 'scanpay-decoder-'));
    });
    afterAll(async () => {
      await worker.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('moves a frame it is given to keep, and copies one it is lent', async () => {
      const lent = { ...qr, data: Uint8ClampedArray.from(qr.data) };
      expect((await worker.decode(lent))?.text).toBe(WECHAT);
      expect(lent.data.byteLength).toBe(qr.data.byteLength);
      const [kept] = new FrameCutter(qr.data.length).push(qr.data);
      expect((await worker.decode({ ...qr, data: kept! }, { move: true }))?.text).toBe(WECHAT);
      expect(kept!.byteLength).toBe(0); // detached: moved, not copied
    });

    it('copies a frame that shares its buffer, even when asked to move it', async () => {
      const shared = new Uint8Array(qr.data.length + 16);
      shared.set(qr.data, 16);
      const frame = { ...qr, data: shared.subarray(16) };
      expect((await worker.decode(frame, { move: true }))?.text).toBe(WECHAT);
      expect(shared.byteLength).toBe(qr.data.length + 16);
    });

    it.runIf(existsSync('/proc/thread-self'))('runs below the main thread, by DECODER_NICER_BY nice levels', async () => {
      await worker.ready();
      const nice = (task: string) => Number(readFileSync(`/proc/self/task/${task}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
      const main = nice(String(process.pid));
      const levels = readdirSync('/proc/self/task').map(nice);
      expect(levels).toContain(Math.min(19, main + DECODER_NICER_BY));
    });

    it('reads an image file itself, and reports an unreadable one with its code', async () => {
      writeFileSync(join(dir, 'code.png'), pngBytes(qr));
      writeFileSync(join(dir, 'bad.png'), 'not a png');
      expect(await worker.decodeFile(join(dir, 'code.png'))).toEqual({ text: WECHAT, symbology: 'QR Code' });
      const error = await worker.decodeFile(join(dir, 'bad.png')).catch((e: unknown) => e);
      expect(isScanpayError(error, 'SCAN_IMAGE_UNREADABLE')).toBe(true);
      expect(String(error)).toMatch(/bad\.png/);
    });
  });
});
