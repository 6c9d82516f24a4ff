import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { symbologyFromAim, stripAim } from '../../drivers/aim.ts';
import { createSource } from '../../drivers/create-source.ts';
import { Framer, type FramerOptions } from '../../drivers/serial/framer.ts';
import type { ScanEvent } from '../../drivers/source.ts';
import { MemorySerial } from './support/memory-serial.ts';

function framer(options: Partial<FramerOptions>) {
  const clock = new ManualClock();
  const frames: string[] = [];
  const f = new Framer({ terminator: 'cr', maxBytes: 64, ...options }, clock, (b) => frames.push(b.toString('latin1')));
  return { clock, frames, push: (s: string) => f.push(Buffer.from(s, 'latin1')), flush: () => f.flush() };
}

describe('Framer', () => {
  it('splits at the terminator, however the bytes are chunked', () => {
    const f = framer({ terminator: 'crlf' });
    for (const piece of ['12', '3\r', '\n45', '6\r\n\r', '\n']) f.push(piece);
    expect(f.frames).toEqual(['123', '456', '']);
  });

  it('with terminator none, ends a frame only after the idle time', () => {
    const f = framer({ terminator: 'none', idleMs: 50 });
    f.push('1234');
    f.clock.advance(49);
    f.push('5678');
    f.clock.advance(49);
    expect(f.frames).toEqual([]);
    f.clock.advance(1);
    expect(f.frames).toEqual(['12345678']);
  });

  it('with a terminator and idle time, keeps a terminator that more bytes follow', () => {
    const f = framer({ terminator: 'cr', idleMs: 30 });
    f.push('line one\rline');
    f.clock.advance(10);
    f.push(' two\r');
    f.clock.advance(30);
    expect(f.frames).toEqual(['line one\rline two']);
  });

  it('cuts off a frame that reaches maxBytes so noise cannot grow the buffer', () => {
    const f = framer({ terminator: 'cr', maxBytes: 8 });
    f.push('0123456789abcdefgh');
    f.push('\r');
    expect(f.frames).toEqual(['01234567', '89abcdef', 'gh']);
  });

  it('hands on a partial frame when flushed (port closed)', () => {
    const f = framer({ terminator: 'none', idleMs: 50 });
    f.push('abc');
    f.flush();
    expect(f.frames).toEqual(['abc']);
    expect(f.clock.pending).toBe(0);
  });

  it('checks its options', () => {
    expect(() => framer({ terminator: 'none' })).toThrow('"idleMs" is required when the terminator is none');
  });
});

describe('AIM identifiers', () => {
  it.each([
    [']Q1', 'QR Code'],
    [']E0', 'EAN-13'],
    [']E4', 'EAN-8'],
    [']C0', 'Code 128'],
    [']d2', 'Data Matrix'],
    [']X0', 'other'],
  ])('%s is %s', (id, symbology) => expect(symbologyFromAim(id)).toBe(symbology));

  it('leaves text without an identifier alone', () => {
    expect(stripAim('134567890123456789')).toEqual({ text: '134567890123456789', symbology: undefined });
    expect(stripAim(']')).toEqual({ text: ']', symbology: undefined });
  });
});

describe('serial source without a tty', () => {
  it('finds a port by USB id and frames its data', async () => {
    const link = new MemorySerial();
    const opened: string[] = [];
    const source = createSource('serial:usb=05E0:1200?terminator=lf', {
      clock: new ManualClock(),
      listSerial: async () => [
        { path: '/dev/ttyS0', vendorId: undefined, productId: undefined, manufacturer: undefined, serialNumber: undefined },
        { path: '/dev/ttyACM0', vendorId: '05e0', productId: '1200', manufacturer: 'Zebra', serialNumber: 'X' },
      ],
      openSerial: async (o) => {
        opened.push(o.path);
        return link;
      },
    });
    const scans: ScanEvent[] = [];
    source.on('scan', (e) => scans.push(e));
    await source.open();
    link.send(Buffer.from('4006381333931\n'));
    expect(opened).toEqual(['/dev/ttyACM0']);
    expect(scans.map((s) => s.text)).toEqual(['4006381333931']);
  });

  it('says what to check when no port has the USB id', async () => {
    const source = createSource('serial:usb=05e0:1200', { clock: new ManualClock(), listSerial: async () => [] });
    await expect(source.open()).rejects.toMatchObject({ code: 'SCAN_DEVICE_NOT_FOUND', message: expect.stringContaining('ATTRS{idVendor}=="05e0"') });
  });

  it('reports a serial port that does not exist as not found (real serialport binding)', async () => {
    const source = createSource('serial:/dev/scanpay-no-such-tty', { clock: new ManualClock() });
    await expect(source.open()).rejects.toMatchObject({ code: 'SCAN_DEVICE_NOT_FOUND' });
  });
});
