import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { isScanpayError } from '../../agent/errors.ts';
import { createSource } from '../../drivers/create-source.ts';
import { hidError, listHidDevices, openHidDevice, pickInterface } from '../../drivers/hid/hid-device.ts';
import { LAYOUTS } from '../../drivers/keyboard/layouts.ts';
import { PosParser } from '../../drivers/hid/pos-parser.ts';
import { RecordedHidDevice } from '../../drivers/hid/recorded-device.ts';
import { WedgeParser } from '../../drivers/hid/wedge-parser.ts';
import type { ScanEvent, StatusEvent } from '../../drivers/source.ts';
import {
  CHAINED_URL_TEXT,
  POS_CHAINED_URL,
  POS_EAN13,
  POS_PLAIN_CHAINED,
  POS_PLAIN_WECHAT,
  POS_QR_WECHAT,
  GS1_TEXT,
  WEDGE_DE,
  WEDGE_FR,
  WEDGE_GS1_ALT_KEYPAD,
  WEDGE_US_SHIFTED_TAB,
  WEDGE_US_WECHAT,
  hex,
} from './support/hid-recordings.ts';

/** A HID source over a recorded device: the same HidSource code the real device feeds. */
async function recordedSource(spec: string) {
  const device = new RecordedHidDevice();
  const source = createSource(spec, { clock: new ManualClock(), openHid: device.opener() });
  const scans: ScanEvent[] = [];
  const statuses: StatusEvent[] = [];
  source.on('scan', (e) => scans.push(e));
  source.on('status', (e) => statuses.push(e));
  await source.open();
  return { device, source, scans, statuses };
}

describe('keyboard-wedge reports', () => {
  it('types a WeChat Pay code on the US layout, Enter ends it', async () => {
    const { device, scans } = await recordedSource('hid:0c2e:0b61?mode=wedge');
    device.play(hex(WEDGE_US_WECHAT));
    expect(scans.map((s) => s.text)).toEqual(['134567890123456789']);
    expect(scans[0]?.symbology).toBeUndefined();
  });

  it('applies shift and ends at Tab when so configured', async () => {
    const { device, scans } = await recordedSource('hid:0c2e:0b61?mode=wedge&terminator=tab');
    device.play(hex(WEDGE_US_SHIFTED_TAB));
    expect(scans.map((s) => s.text)).toEqual(['fpAb_1!Zy']);
  });

  it('reads a German-layout scanner with the de layout, and gets it wrong with us', async () => {
    const de = await recordedSource('hid:0c2e:0b61?mode=wedge&layout=de');
    de.device.play(hex(WEDGE_DE));
    expect(de.scans.map((s) => s.text)).toEqual(['fpZy-_@ß']);
    const us = await recordedSource('hid:0c2e:0b61?mode=wedge&layout=us');
    us.device.play(hex(WEDGE_DE));
    expect(us.scans[0]?.text).not.toBe('fpZy-_@ß');
  });

  it('counts a key once while held, and again after release', () => {
    const parser = new WedgeParser(LAYOUTS.us, 'enter', 100);
    const reports = hex([
      '00001e0000000000 00001e0000000000 0000000000000000', // 1 held over two reports
      '00001e0000000000 00001e1f00000000 00001f0000000000', // 1, then 2 rolled over while 1 held
      '0000000000000000 0000280000000000',
    ]);
    const frames = reports.flatMap((r) => parser.push(r)).map((r) => ('frame' in r ? r.frame.toString() : r.error.code));
    expect(frames).toEqual(['112']);
  });

  it('reports a report of the wrong size as an invalid frame and keeps reading', async () => {
    const { device, scans, statuses } = await recordedSource('hid:0c2e:0b61?mode=wedge');
    device.play([Buffer.from('0000', 'hex'), ...hex(WEDGE_US_WECHAT)]);
    expect(statuses.filter((s) => s.status === 'error').map((s) => s.error?.code)).toEqual(['SCAN_FRAME_INVALID']);
    expect(scans.map((s) => s.text)).toEqual(['134567890123456789']);
  });

  it('turns Ctrl combinations into control characters for the manager to reject', () => {
    const parser = new WedgeParser(LAYOUTS.us, 'enter', 100);
    const out = hex(['0100300000000000 0000000000000000 0000280000000000']).flatMap((r) => parser.push(r));
    expect(out).toEqual([{ frame: Buffer.from('\u001a') }]);
  });
});

describe('keyboard reports beyond the boot layout', () => {
  it('reads 9-byte reports that start with a report ID (composite scanners)', async () => {
    const { device, scans, statuses } = await recordedSource('hid:0c2e:0b61?mode=wedge');
    device.play(hex(WEDGE_US_WECHAT).map((r) => Buffer.concat([Buffer.from([0x01]), r])));
    expect(statuses.filter((s) => s.status === 'error')).toEqual([]);
    expect(scans.map((s) => s.text)).toEqual(['134567890123456789']);
  });

  it('types Alt+keypad sequences as one character: GS between GS1 fields', async () => {
    const { device, scans } = await recordedSource('hid:0c2e:0b61?mode=wedge');
    device.play(hex(WEDGE_GS1_ALT_KEYPAD));
    expect(scans.map((s) => s.text)).toEqual([GS1_TEXT]);
  });

  it('reads a French AZERTY scanner: the digits are shifted keys', async () => {
    const { device, scans } = await recordedSource('hid:0c2e:0b61?mode=wedge&layout=fr');
    device.play(hex(WEDGE_FR));
    expect(scans.map((s) => s.text)).toEqual(['2813aZ@']);
  });

  it('drops a code that never ends, up to its Enter, reporting it once', () => {
    const parser = new WedgeParser(LAYOUTS.us, 'enter', 10);
    const one = hex(['00001e0000000000 0000000000000000']);
    const reports = [...Array.from({ length: 15 }, () => one).flat(), ...hex(['0000280000000000 0000000000000000']), ...one, ...hex(['0000280000000000'])];
    const out = reports.flatMap((r) => parser.push(r)).map((r) => ('frame' in r ? r.frame.toString() : r.error.code));
    expect(out).toEqual(['SCAN_FRAME_TOO_LONG', '1']);
  });
});

describe('HID POS reports', () => {
  it('reads the plain layout (data at byte 2, no AIM) of other vendors, chained by full reports', async () => {
    const { device, scans } = await recordedSource('hid:1eab:1310?mode=pos&report=plain');
    device.play(hex(POS_PLAIN_WECHAT));
    expect(scans.map((s) => [s.text, s.symbology])).toEqual([['134567890123456789', undefined]]);
    device.play(hex(POS_PLAIN_CHAINED));
    expect(scans.map((s) => s.text)).toEqual(['134567890123456789', CHAINED_URL_TEXT]);
  });

  it('drops a chained code whose last part never comes, instead of merging it into the next', async () => {
    const device = new RecordedHidDevice();
    const clock = new ManualClock();
    const source = createSource('hid:0c2e:0b61?mode=pos&chain=200', { clock, openHid: device.opener() });
    const scans: ScanEvent[] = [];
    const errors: string[] = [];
    source.on('scan', (e) => scans.push(e));
    source.on('status', (e) => e.error && errors.push(e.error.code));
    await source.open();
    device.play(hex(POS_CHAINED_URL).slice(0, 1));
    clock.advance(200);
    device.play(hex(POS_QR_WECHAT));
    expect(errors).toEqual(['SCAN_FRAME_INCOMPLETE']);
    expect(scans.map((s) => s.text)).toEqual(['134567890123456789']);
  });

  it('refuses data that is not valid UTF-8', async () => {
    const { device, scans, statuses } = await recordedSource('hid:0c2e:0b61?mode=pos');
    const report = hex(POS_QR_WECHAT)[0]!;
    report[8] = 0xff;
    device.play([report]);
    expect(scans).toEqual([]);
    expect(statuses.at(-1)?.error?.code).toBe('SCAN_FRAME_INVALID');
  });

  it('delivers the data with the symbology from the AIM identifier', async () => {
    const { device, scans } = await recordedSource('hid:0c2e:0b61?mode=pos');
    device.play(hex([...POS_QR_WECHAT, ...POS_EAN13]));
    expect(scans.map((s) => [s.text, s.symbology])).toEqual([
      ['134567890123456789', 'QR Code'],
      ['4006381333931', 'EAN-13'],
    ]);
  });

  it('joins a code chained over several reports', async () => {
    const { device, scans } = await recordedSource('hid:0c2e:0b61');
    const reports = hex(POS_CHAINED_URL);
    expect(reports).toHaveLength(2);
    device.play(reports.slice(0, 1));
    expect(scans).toEqual([]);
    device.play(reports.slice(1));
    expect(scans.map((s) => s.text)).toEqual([CHAINED_URL_TEXT]);
  });

  it('rejects a report claiming more data than fits, and recovers on the next', () => {
    const parser = new PosParser({ layout: 'aim', maxBytes: 4096, chainMs: 200 }, new ManualClock());
    const bad = hex(POS_QR_WECHAT)[0]!;
    bad[1] = 200;
    const results = [bad, ...hex(POS_QR_WECHAT)].flatMap((r) => parser.push(r));
    expect(results.map((r) => ('error' in r ? r.error.code : r.frame.toString()))).toEqual(['SCAN_FRAME_INVALID', '134567890123456789']);
  });

  it('ignores reports with other report IDs', () => {
    const parser = new PosParser({ layout: 'aim', maxBytes: 4096, chainMs: 200 }, new ManualClock());
    expect(parser.push(Buffer.alloc(64, 0x01))).toEqual([]);
  });

  it('reports an unplugged device as disconnected and writes feedback reports', async () => {
    const { device, source, statuses } = await recordedSource('hid:0c2e:0b61?mode=pos&good=0501');
    expect(await source.feedback('good')).toBe(true);
    expect(await source.feedback('bad')).toBe(false);
    expect(device.written.map((b) => b.toString('hex'))).toEqual(['0501']);
    device.unplug();
    expect(statuses.map((s) => s.status)).toEqual(['connected', 'disconnected']);
    expect(statuses[1]?.error?.code).toBe('SCAN_DEVICE_DISCONNECTED');
  });

  it('never throws on arbitrary reports', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 80 }), { maxLength: 30 }), (reports) => {
        const pos = new PosParser({ layout: 'aim', maxBytes: 512, chainMs: 200 }, new ManualClock());
        const plain = new PosParser({ layout: 'plain', maxBytes: 512, chainMs: 200 }, new ManualClock());
        const wedge = new WedgeParser(LAYOUTS.de, 'enter', 512);
        for (const r of reports) {
          pos.push(Buffer.from(r));
          plain.push(Buffer.from(r));
          wedge.push(Buffer.from(r));
        }
      }),
    );
  });
});

describe('the real node-hid path on this machine', () => {
  const libusbInstalled = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }).includes('libusb-1.0.so.0');

  it('lists devices, or says exactly what to install', async () => {
    const outcome = await listHidDevices().then(
      (devices) => ({ devices }),
      (error: unknown) => ({ error }),
    );
    if (libusbInstalled) {
      expect(outcome).toHaveProperty('devices');
    } else {
      expect('error' in outcome && isScanpayError(outcome.error, 'SCAN_NATIVE_LIBRARY_MISSING')).toBe(true);
      expect(String((outcome as { error: Error }).error.message)).toContain('apt-get install libusb-1.0-0');
    }
  });

  it('fails to open an absent scanner with a clear error, never a stack trace', async () => {
    const error = await openHidDevice({ vendorId: 0xfffe, productId: 0x0001, mode: 'pos' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isScanpayError(error, libusbInstalled ? 'SCAN_DEVICE_NOT_FOUND' : 'SCAN_NATIVE_LIBRARY_MISSING')).toBe(true);
  });

  it('maps a permission failure to the udev rule to add', () => {
    const e = hidError(new Error('cannot open device with path 0001:0004:00'), { vendorId: 0x0c2e, productId: 0x0b61 });
    expect(e.code).toBe('SCAN_DEVICE_ACCESS_DENIED');
    expect(e.message).toContain('SUBSYSTEM=="usb", ATTR{idVendor}=="0c2e", ATTR{idProduct}=="0b61"');
  });

  it('picks the POS interface or the keyboard interface of a composite scanner', () => {
    const interfaces = [
      { usagePage: 0x01, usage: 0x06, interfaceProtocol: 1, path: 'kbd' },
      { usagePage: 0x8c, usage: 0x02, interfaceProtocol: 0, path: 'pos' },
    ];
    expect(pickInterface(interfaces, 'pos')?.path).toBe('pos');
    expect(pickInterface(interfaces, 'wedge')?.path).toBe('kbd');
  });

  it('picks the right interface without a usage page (libusb), from the boot protocol', () => {
    // The keyboard interface is not interface 0 here: the old rule read the wrong one.
    const interfaces = [
      { usagePage: undefined, usage: undefined, interfaceProtocol: 0, path: '1-1.2:1.0' },
      { usagePage: undefined, usage: undefined, interfaceProtocol: 1, path: '1-1.2:1.1' },
    ];
    expect(pickInterface(interfaces, 'wedge')?.path).toBe('1-1.2:1.1');
    expect(pickInterface(interfaces, 'pos')?.path).toBe('1-1.2:1.0');
    const unknown = interfaces.map((i) => ({ ...i, interfaceProtocol: undefined }));
    expect(pickInterface(unknown, 'pos')).toBeUndefined();
  });
});
