import { describe, expect, it } from 'vitest';
import { ManualClock, type Clock } from '../../agent/clock.ts';
import { symbologyFromAim, stripAim } from '../../drivers/aim.ts';
import { createSource } from '../../drivers/create-source.ts';
import { Framer, type FramerOptions } from '../../drivers/serial/framer.ts';
import type { ScanEvent, StatusEvent } from '../../drivers/source.ts';
import { MemorySerial } from './support/memory-serial.ts';

function framer<C extends Clock = ManualClock>(options: Partial<FramerOptions>, clock: C = new ManualClock() as unknown as C) {
  const frames: string[] = [];
  const errors: string[] = [];
  const f = new Framer({ terminator: 'cr', maxBytes: 64, ...options }, clock, (r) => ('frame' in r ? frames.push(r.frame.toString('latin1')) : errors.push(r.error.code)));
  return { clock, frames, errors, push: (s: string) => f.push(Buffer.from(s, 'latin1')), discard: () => f.discard() };
}

/**
 * A clock for an event loop that can be blocked: `stall(ms)` moves time on without
 * running anything, as a busy loop would; `run()` then fires what fell due, late, the way
 * Node runs overdue timers before it reads the bytes that arrived meanwhile.
 */
class StallableClock implements Clock {
  #now = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  now = () => this.#now;
  setTimeout(fn: () => void, ms: number): number {
    this.#timers.set(this.#next, { at: this.#now + ms, fn });
    return this.#next++;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  stall(ms: number): void {
    this.#now += ms;
  }
  run(): void {
    for (const [id, t] of [...this.#timers].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at > this.#now || !this.#timers.has(id)) continue;
      this.#timers.delete(id);
      t.fn();
    }
  }
  /** Idle time with a free loop: every timer fires when due. */
  idle(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = [...this.#timers.values()].filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#now = Math.max(this.#now, due.at);
      this.run();
    }
    this.#now = end;
  }
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

  it('drops a frame that reaches maxBytes up to its terminator: its tail is not a scan', () => {
    const f = framer({ terminator: 'cr', maxBytes: 8 });
    f.push('0123456789abcdefgh');
    f.push('ij\r12345');
    f.push('\r');
    expect(f.errors).toEqual(['SCAN_FRAME_TOO_LONG']);
    expect(f.frames).toEqual(['12345']);
  });

  it('drops a too-long frame that arrives whole in one read', () => {
    const f = framer({ terminator: 'crlf', maxBytes: 8 });
    f.push('0123456789\r\nabc\r\n');
    expect(f.errors).toEqual(['SCAN_FRAME_TOO_LONG']);
    expect(f.frames).toEqual(['abc']);
  });

  it('with idle framing, drops a too-long frame up to the silence', () => {
    const f = framer({ terminator: 'none', idleMs: 50, maxBytes: 8 });
    f.push('0123456789');
    f.clock.advance(10);
    f.push('abcdef');
    f.clock.advance(50);
    f.push('1234');
    f.clock.advance(50);
    expect(f.errors).toEqual(['SCAN_FRAME_TOO_LONG']);
    expect(f.frames).toEqual(['1234']);
  });

  it('drops a partial frame when discarded (port lost) and says how much was lost', () => {
    const f = framer({ terminator: 'none', idleMs: 50 });
    f.push('abc');
    expect(f.discard()).toBe(3);
    f.clock.advance(100);
    expect(f.frames).toEqual([]);
    expect(f.clock.pending).toBe(0);
  });

  it('does not split a code when the idle timer fires late because the loop was blocked', () => {
    const clock = new StallableClock();
    const f = framer({ terminator: 'none', idleMs: 50 }, clock);
    for (let i = 0; i < 20; i++) {
      const code = `13456789012345${String(i).padStart(4, '0')}`;
      f.push(code.slice(0, 9));
      clock.idle(10);
      // The second piece reaches the kernel 10 ms later, but the agent is busy for 100 ms:
      // Node runs the overdue idle timer before it reads that piece.
      clock.stall(100);
      clock.run();
      f.push(code.slice(9));
      clock.idle(200);
    }
    expect(f.frames).toHaveLength(20);
    expect(f.frames.every((c) => c.length === 18)).toBe(true);
  });

  it('still ends a frame when the loop stays blocked at every check', () => {
    const clock = new StallableClock();
    const f = framer({ terminator: 'none', idleMs: 50 }, clock);
    f.push('abc');
    for (let i = 0; i < 10 && f.frames.length === 0; i++) {
      clock.stall(100);
      clock.run();
    }
    expect(f.frames).toEqual(['abc']);
  });

  it('checks its options', () => {
    expect(() => framer({ terminator: 'none' })).toThrow('"idleMs" is required when the terminator is none');
  });
});

describe('Framer: edges of length, terminators and silence', () => {
  it('refuses options it cannot frame with', () => {
    expect(() => framer({ terminator: 'none', idleMs: 0 })).toThrow(TypeError);
    expect(() => framer({ terminator: 'none', idleMs: -5 })).toThrow(TypeError);
    expect(() => framer({ terminator: 'cr', maxBytes: 0 })).toThrow('"maxBytes" must be positive');
    expect(() => framer({ terminator: 'cr', maxBytes: Number.NaN })).toThrow(TypeError);
    expect(() => framer({ terminator: 'none', idleMs: 1, maxBytes: 1 })).not.toThrow();
  });

  it('splits at LF, at CR, and at CRLF only as a pair', () => {
    const lf = framer({ terminator: 'lf' });
    lf.push('12\r3\n45\n');
    expect(lf.frames).toEqual(['12\r3', '45']);
    const crlf = framer({ terminator: 'crlf' });
    crlf.push('1\r2\n3\r\n');
    expect(crlf.frames).toEqual(['1\r2\n3']);
  });

  it('takes a frame one byte shorter than maxBytes and drops one of maxBytes, reporting it with the limit', () => {
    const errors: unknown[] = [];
    const frames: string[] = [];
    const f = new Framer({ terminator: 'cr', maxBytes: 8 }, new ManualClock(), (r) => ('frame' in r ? frames.push(r.frame.toString()) : errors.push(r.error)));
    f.push(Buffer.from('1234567\r'));
    f.push(Buffer.from('12345678\r'));
    f.push(Buffer.from('1234567'));
    f.push(Buffer.from('\r'));
    expect(frames).toEqual(['1234567', '1234567']);
    expect(errors).toMatchObject([{ code: 'SCAN_FRAME_TOO_LONG', detail: { maxBytes: 8 } }]);
  });

  it('reports an overflowing frame once, however many reads it takes', () => {
    const f = framer({ terminator: 'cr', maxBytes: 4 });
    for (const piece of ['12345', '67890', 'abcde', '\r', 'ok\r']) f.push(piece);
    expect(f.errors).toEqual(['SCAN_FRAME_TOO_LONG']);
    expect(f.frames).toEqual(['ok']);
  });

  it('finds a CRLF that straddles two reads after an overflow', () => {
    const f = framer({ terminator: 'crlf', maxBytes: 8 });
    f.push('0123456789\r');
    f.push('\nabc\r\n');
    expect(f.errors).toEqual(['SCAN_FRAME_TOO_LONG']);
    expect(f.frames).toEqual(['abc']);
  });

  it('with a terminator and idle time, strips the terminator that silence confirms, and passes no empty frame', () => {
    const cr = framer({ terminator: 'cr', idleMs: 30 });
    cr.push('abc\r');
    cr.clock.advance(30);
    cr.push('\r');
    cr.clock.advance(30);
    cr.push('de');
    cr.clock.advance(30);
    expect(cr.frames).toEqual(['abc', 'de']);
    const crlf = framer({ terminator: 'crlf', idleMs: 30 });
    crlf.push('xyz\r\n');
    crlf.clock.advance(30);
    crlf.push('\n');
    crlf.clock.advance(30);
    expect(crlf.frames).toEqual(['xyz', '\n']);
  });

  it('after a too-long frame ended by silence, the next frame is whole', () => {
    const f = framer({ terminator: 'none', idleMs: 50, maxBytes: 8 });
    f.push('0123456789');
    f.clock.advance(50);
    f.push('abc');
    f.clock.advance(50);
    expect(f.errors).toEqual(['SCAN_FRAME_TOO_LONG']);
    expect(f.frames).toEqual(['abc']);
  });

  it('a discard mid-overflow loses no scan (nothing of a scan was buffered) and ends the overflow', () => {
    const f = framer({ terminator: 'crlf', maxBytes: 4 });
    f.push('123456\r');
    expect(f.discard()).toBe(0);
    f.push('ab\r\n');
    expect(f.frames).toEqual(['ab']);
    expect(f.discard()).toBe(0);
  });

  it('believes a timer up to 10 ms late, and re-checks one later than that', () => {
    const onTime = new StallableClock();
    const a = framer({ terminator: 'none', idleMs: 50 }, onTime);
    a.push('abc');
    onTime.stall(60);
    onTime.run();
    expect(a.frames).toEqual(['abc']);
    const late = new StallableClock();
    const b = framer({ terminator: 'none', idleMs: 50 }, late);
    b.push('abc');
    late.stall(61);
    late.run();
    expect(b.frames).toEqual([]);
    late.idle(50);
    expect(b.frames).toEqual(['abc']);
  });

  it('re-checks a late silence five times, then believes it', () => {
    const clock = new StallableClock();
    const f = framer({ terminator: 'none', idleMs: 50 }, clock);
    f.push('abc');
    for (let i = 0; i < 5; i++) {
      clock.stall(100);
      clock.run();
    }
    expect(f.frames).toEqual([]);
    clock.stall(100);
    clock.run();
    expect(f.frames).toEqual(['abc']);
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

  it('reports a code cut off by an unplugged cable instead of passing it on', async () => {
    const link = new MemorySerial();
    const source = createSource('serial:/dev/ttyACM0?terminator=cr', { clock: new ManualClock(), openSerial: link.opener() });
    const scans: ScanEvent[] = [];
    const statuses: StatusEvent[] = [];
    source.on('scan', (e) => scans.push(e));
    source.on('status', (e) => statuses.push(e));
    await source.open();
    link.send(Buffer.from('1345678901\r13456'));
    link.unplug();
    expect(scans.map((s) => s.text)).toEqual(['1345678901']);
    expect(statuses.map((s) => [s.status, s.error?.code])).toEqual([
      ['connected', undefined],
      ['error', 'SCAN_FRAME_INCOMPLETE'],
      ['disconnected', 'SCAN_DEVICE_DISCONNECTED'],
    ]);
  });

  it('refuses bytes that are not valid UTF-8 instead of passing U+FFFD on', async () => {
    const link = new MemorySerial();
    const source = createSource('serial:/dev/ttyACM0?terminator=cr', { clock: new ManualClock(), openSerial: link.opener() });
    const scans: ScanEvent[] = [];
    const errors: string[] = [];
    source.on('scan', (e) => scans.push(e));
    source.on('status', (e) => e.error && errors.push(e.error.code));
    await source.open();
    link.send(Buffer.from([0x31, 0x33, 0xff, 0x34, 0x0d, 0xc3, 0x28, 0x0d]));
    link.send(Buffer.from('Zürich-134567\r', 'utf8'));
    expect(errors).toEqual(['SCAN_FRAME_INVALID', 'SCAN_FRAME_INVALID']);
    expect(scans.map((s) => s.text)).toEqual(['Zürich-134567']);
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
