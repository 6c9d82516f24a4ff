import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { isScanpayError } from '../../agent/errors.ts';
import { classifyCode, describeCode } from '../../agent/payment-code.ts';
import { createSource } from '../../drivers/create-source.ts';
import { decodeImageBytes } from '../../drivers/image/image-file.ts';
import QRCode from 'qrcode';
import { FrameDecoder } from '../../drivers/image/decoder.ts';
import type { ScanEvent, ScannerSource, StatusEvent } from '../../drivers/source.ts';
import {
  barcodeFrame,
  blank,
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
} from './support/synthetic-images.ts';

const WECHAT = '134567890123456789';
const ALIPAY = '281234567890123456';
const EAN13 = '4006381333931';
const decoder = new FrameDecoder();

describe('frame decoder (@zxing/library)', () => {
  const qr = onCanvas(qrFrame(WECHAT, 4), 320, 240);

  it.each<[string, () => GrayFrame]>([
    ['plain', () => qr],
    ['scaled down to about 2 px per module', () => onCanvas(scaled(qrFrame(WECHAT, 4), 0.55), 200, 160)],
    ['scaled up', () => scaled(qr, 1.8)],
    ['rotated 30 degrees', () => rotated(qrFrame(WECHAT, 4), 30)],
    ['rotated 90 degrees', () => rotated(qr, 90)],
    ['inverted (dark-mode wallet)', () => inverted(qr)],
    ['noisy', () => noisy(qr, 70, 7)],
    ['low contrast', () => lowContrast(qr, 110, 150)],
    ['inverted, low contrast and noisy', () => noisy(lowContrast(inverted(qr), 90, 170), 25, 3)],
  ])('reads a QR payment code: %s', (_name, make) => {
    expect(decoder.decode(make())).toEqual({ text: WECHAT, symbology: 'QR Code' });
  });

  it('reads RGBA frames as well as grayscale', () => {
    expect(decoder.decode(toRgba(qr))?.text).toBe(WECHAT);
  });

  it('reads Code 128, also held upright', async () => {
    const bar = await barcodeFrame('code128', ALIPAY);
    expect(decoder.decode(bar)).toEqual({ text: ALIPAY, symbology: 'Code 128' });
    expect(decoder.decode(rotated(bar, 90))).toEqual({ text: ALIPAY, symbology: 'Code 128' });
  });

  it('reads a product barcode, which scanpay then classifies as not a payment code', async () => {
    const hit = decoder.decode(noisy(onCanvas(await barcodeFrame('ean13', EAN13), 400, 200), 30, 5));
    expect(hit).toEqual({ text: EAN13, symbology: 'EAN-13' });
    expect(classifyCode(hit!.text)).toEqual({ kind: 'product', symbology: 'EAN-13' });
    expect(describeCode(hit!.text)).toBe('product barcode (EAN-13), not a payment code');
  });

  it('reads UPC-A and EAN-8', async () => {
    expect(decoder.decode(await barcodeFrame('upca', '036000291452'))).toEqual({ text: '036000291452', symbology: 'UPC-A' });
    expect(decoder.decode(await barcodeFrame('ean8', '96385074'))).toEqual({ text: '96385074', symbology: 'EAN-8' });
  });

  it('finds nothing in a frame without a code', () => {
    expect(decoder.decode(noisy(blank(120, 90), 40))).toBeUndefined();
  });

  it('refuses a frame whose buffer does not match its size', () => {
    expect(() => decoder.decode({ data: new Uint8Array(10), width: 4, height: 4, format: 'gray' })).toThrow(/needs 16 bytes, got 10/);
  });
});

async function drain(source: ScannerSource) {
  const scans: ScanEvent[] = [];
  const statuses: StatusEvent[] = [];
  source.on('scan', (e) => scans.push(e));
  const ended = new Promise<void>((resolve) =>
    source.on('status', (e) => {
      statuses.push(e);
      if (e.ended) resolve();
    }),
  );
  await source.open();
  await ended;
  return { scans, statuses };
}

describe('frame decoder on clean wallet codes', () => {
  // zxing's QR detector alone missed these three, drawn at 6 and 7 px per module.
  it.each(['134771629178065098', '139811916680941436', '0131886669604807689'])('reads %s at every module size', async (code) => {
    const decoder = new FrameDecoder();
    for (const scale of [4, 6, 7, 9]) {
      const png = await QRCode.toBuffer(code, { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale });
      expect(decoder.decode(decodeImageBytes(png, 'phone.png'))?.text, `scale ${scale}`).toBe(code);
    }
  });
});

describe('frame source', () => {
  let dir: string;
  const clock = new ManualClock();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scanpay-frames-'));
    writeFileSync(join(dir, 'frame-001.png'), pngBytes(onCanvas(qrFrame(WECHAT, 4), 320, 240)));
    writeFileSync(join(dir, 'frame-002.jpg'), jpegBytes(rotated(onCanvas(qrFrame(ALIPAY, 4), 320, 240), 12), 80));
    writeFileSync(join(dir, 'frame-003.png'), Buffer.from('not really a png'));
    writeFileSync(join(dir, 'frame-004.jpeg'), jpegBytes(onCanvas(await barcodeFrame('ean13', EAN13), 400, 200), 90));
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a PNG/JPEG file sequence in name order, skipping an unreadable file', async () => {
    const { scans, statuses } = await drain(createSource(`image:${dir}`, { clock }));
    expect(scans.map((s) => [s.text, s.symbology])).toEqual([
      [WECHAT, 'QR Code'],
      [ALIPAY, 'QR Code'],
      [EAN13, 'EAN-13'],
    ]);
    expect(statuses.map((s) => s.error?.code ?? s.status)).toEqual(['connected', 'SCAN_IMAGE_UNREADABLE', 'disconnected']);
  });

  it('reads a single image file', async () => {
    const { scans } = await drain(createSource(`image:${join(dir, 'frame-001.png')}`, { clock }));
    expect(scans.map((s) => s.text)).toEqual([WECHAT]);
  });

  it('fails to open a missing path with SCAN_DEVICE_NOT_FOUND', async () => {
    const error = await createSource(`image:${join(dir, 'nope')}`, { clock }).open().catch((e: unknown) => e);
    expect(isScanpayError(error, 'SCAN_DEVICE_NOT_FOUND')).toBe(true);
  });

  it('cuts a raw grayscale stream on stdin into frames, however it is chunked', async () => {
    const stdin = new PassThrough();
    const frames = [onCanvas(qrFrame(WECHAT, 3), 160, 120), blank(160, 120), inverted(onCanvas(qrFrame(ALIPAY, 3), 160, 120))];
    const stream = Buffer.concat(frames.map((f) => Buffer.from(f.data)));
    const result = drain(createSource('pipe:-?width=160&height=120&format=gray', { clock, stdin }));
    for (let i = 0; i < stream.length; i += 7001) stdin.write(stream.subarray(i, i + 7001));
    stdin.end();
    const { scans } = await result;
    expect(scans.map((s) => s.text)).toEqual([WECHAT, ALIPAY]);
  });

  it('reads raw RGBA frames from a file', async () => {
    const path = join(dir, 'frames.rgba');
    writeFileSync(path, Buffer.from(toRgba(onCanvas(qrFrame(WECHAT, 3), 160, 120)).data));
    const { scans } = await drain(createSource(`frames:${path}?width=160&height=120&format=rgba`, { clock }));
    expect(scans.map((s) => s.text)).toEqual([WECHAT]);
  });
});
