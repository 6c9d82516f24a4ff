/**
 * The evdev source: input_event records to codes, on recorded byte streams (this machine
 * has no input device and no /dev/uinput), a real read through a named pipe, and the
 * grab's failure path on files that are not input devices.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { createSource } from '../../drivers/create-source.ts';
import { EV_KEY, InputEventReader, encodeInputEvent } from '../../drivers/evdev/input-events.ts';
import { KeyReader } from '../../drivers/evdev/key-reader.ts';
import { LAYOUTS, type LayoutName } from '../../drivers/keyboard/layouts.ts';
import type { ScanEvent, StatusEvent } from '../../drivers/source.ts';
import { KEY, digits, record, tap, type Stroke } from './support/evdev-recordings.ts';

const WECHAT = '134567890123456789';

function read(bytes: Buffer, layout: LayoutName = 'us', chunk = bytes.length, recordBytes = 24) {
  const records = new InputEventReader(recordBytes);
  const keys = new KeyReader(LAYOUTS[layout], 'enter', 256);
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += chunk) {
    for (const r of keys.push(records.push(bytes.subarray(i, i + chunk)))) out.push('frame' in r ? r.frame.toString('utf8') : r.error.code);
  }
  return out;
}

describe('input_event records', () => {
  it('parses 24-byte records however the bytes are cut', () => {
    const bytes = record([...digits(WECHAT), ...tap(KEY.ENTER)]);
    expect(bytes.length % 24).toBe(0);
    for (const chunk of [24, 7, 1000]) expect(read(bytes, 'us', chunk)).toEqual([WECHAT]);
  });

  it('parses the 16-byte records of 32-bit machines', () => {
    expect(read(record([...digits('42'), ...tap(KEY.ENTER)], 16), 'us', 5, 16)).toEqual(['42']);
  });

  it('reads type, code and value from the last 8 bytes, little-endian', () => {
    const [e] = new InputEventReader(24).push(encodeInputEvent({ type: EV_KEY, code: 0x1234, value: -2, sec: 1, usec: 2 }, 24));
    expect(e).toEqual({ type: EV_KEY, code: 0x1234, value: -2 });
  });
});

describe('key events to codes', () => {
  it('counts key-down only: autorepeat and releases type nothing', () => {
    const strokes: Stroke[] = [[digitKeyOf('1'), 1], [digitKeyOf('1'), 2], [digitKeyOf('1'), 2], [digitKeyOf('1'), 0], ...digits('2'), ...tap(KEY.ENTER)];
    expect(read(record(strokes))).toEqual(['12']);
  });

  it('applies Shift, and AltGr on the German layout', () => {
    // US: shift+a, q ; DE: AltGr+Q is @, the Z key types y.
    expect(read(record([...tap(KEY.A, KEY.LEFTSHIFT), ...tap(KEY.Q), ...tap(KEY.ENTER)]))).toEqual(['Aq']);
    expect(read(record([...tap(KEY.Q, KEY.RIGHTALT), ...tap(KEY.Z), ...tap(KEY.ENTER)]), 'de')).toEqual(['@y']);
  });

  it('reads a French AZERTY scanner: digits are shifted, A and Q swap', () => {
    const strokes = [...[...'281'].flatMap((d) => tap(digitKeyOf(d), KEY.LEFTSHIFT)), ...tap(KEY.Q), ...tap(KEY.A), ...tap(KEY.ENTER)];
    expect(read(record(strokes), 'fr')).toEqual(['281aq']);
    // Read with the wrong layout the same keys are not digits: the manager would refuse the code.
    expect(read(record(strokes), 'us')[0]).not.toBe('281aq');
  });

  it('types Alt+keypad 0029 as GS, between the fields of a GS1 code', () => {
    const alt: Stroke[] = [[KEY.LEFTALT, 1], ...tap(KEY.KP0), ...tap(KEY.KP0), ...tap(KEY.KP2), ...tap(KEY.KP9), [KEY.LEFTALT, 0]];
    expect(read(record([...digits('0104006381333931'), ...alt, ...digits('10'), ...tap(KEY.ENTER)]))).toEqual(['0104006381333931\u001d10']);
  });

  it('ignores NumLock presses a scanner sends before keypad digits', () => {
    expect(read(record([...tap(KEY.NUMLOCK), ...digits('77'), ...tap(KEY.NUMLOCK), ...tap(KEY.ENTER)]))).toEqual(['77']);
  });
});

function digitKeyOf(d: string): number {
  return d === '0' ? 11 : 1 + Number(d);
}

describe('evdev source', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'scanpay-evdev-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function collect(spec: string) {
    const source = createSource(spec, { clock: new ManualClock() });
    const scans: ScanEvent[] = [];
    const statuses: StatusEvent[] = [];
    source.on('scan', (e) => scans.push(e));
    source.on('status', (e) => statuses.push(e));
    return { source, scans, statuses };
  }

  it('reads a recorded stream through a named pipe (grab=0), and reports the end as a disconnect', async () => {
    const fifo = join(dir, 'event-kbd');
    execFileSync('mkfifo', [fifo]);
    const { source, scans, statuses } = collect(`evdev:${fifo}?grab=0`);
    // Read-write: opening a FIFO so never blocks (a write-only open would wait for the reader).
    const writer = openSync(fifo, 'r+');
    await source.open();
    writeSync(writer, record([...digits(WECHAT), ...tap(KEY.ENTER), ...digits('4006381333931'), ...tap(KEY.ENTER)]));
    const lost = new Promise<void>((resolve) => source.on('status', (e) => e.status === 'disconnected' && resolve()));
    closeSync(writer);
    await lost;
    expect(scans.map((s) => s.text)).toEqual([WECHAT, '4006381333931']);
    expect(statuses.map((s) => [s.status, s.error?.code])).toEqual([
      ['connected', undefined],
      ['disconnected', 'SCAN_DEVICE_DISCONNECTED'],
    ]);
  });

  it('refuses to run ungrabbed on a file that is not an input device (EVIOCGRAB fails)', async () => {
    const file = join(dir, 'not-a-device');
    writeFileSync(file, record(digits('1')));
    for (const path of [file, '/dev/null']) {
      const { source } = collect(`evdev:${path}`);
      await expect(source.open()).rejects.toMatchObject({ code: 'SCAN_DEVICE_IO', message: expect.stringContaining(`${path} is not an input event device`) });
    }
  });

  it('reports a missing device as not found, for the manager to retry', async () => {
    const { source } = collect('evdev:/dev/input/by-id/usb-scanpay-test-missing-event-kbd');
    await expect(source.open()).rejects.toMatchObject({ code: 'SCAN_DEVICE_NOT_FOUND' });
  });
});
