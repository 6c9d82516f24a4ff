import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { listScanners, listen, type ListDeps } from '../../agent/cli/scanners.ts';
import { ScanpayError } from '../../agent/errors.ts';
import { onCanvas, pngBytes, qrFrame } from './support/synthetic-images.ts';

function fakes(over: Partial<ListDeps> = {}) {
  const lines: string[] = [];
  const deps: ListDeps = {
    listSerial: async () => [
      { path: '/dev/scanpay-test-ttyACM0', vendorId: '05e0', productId: '1200', manufacturer: 'Zebra', serialNumber: undefined },
      { path: '/dev/scanpay-test-ttyUSB0', vendorId: '0403', productId: '6001', manufacturer: 'FTDI', serialNumber: undefined },
    ],
    listHid: async () => [
      { vendorId: 0x0c2e, productId: 0x0b61, path: '0001:0004:00', manufacturer: 'Honeywell', product: 'Xenon', usagePage: 0x8c, usage: 0x02, interface: 0, interfaceProtocol: undefined, devNode: '/dev/bus/usb/001/004' },
      { vendorId: 0x046d, productId: 0xc31c, path: '0001:0005:00', manufacturer: 'Logitech', product: 'Keyboard', usagePage: 0x01, usage: 0x06, interface: 0, interfaceProtocol: 1, devNode: '/dev/bus/usb/001/005' },
      // As hidapi's libusb backend lists them: no usage page, bus-port paths.
      { vendorId: 0x1eab, productId: 0x1310, path: '1-1.2:1.0', manufacturer: 'Newland', product: 'EM30', usagePage: undefined, usage: undefined, interface: 0, interfaceProtocol: 0, devNode: '/dev/bus/usb/001/006' },
      { vendorId: 0x05f9, productId: 0x2206, path: '1-1.3:1.0', manufacturer: 'Datalogic', product: 'Gryphon', usagePage: undefined, usage: undefined, interface: 0, interfaceProtocol: undefined, devNode: undefined },
    ],
    listInput: async () => [
      { node: '/dev/input/event5', byId: '/dev/input/by-id/usb-Newland_EM30-event-kbd', name: 'Newland EM30', vendorId: '1eab', productId: '1303', bus: 'usb' },
      { node: '/dev/input/event2', byId: undefined, name: 'AT Translated Set 2 keyboard', vendorId: '0001', productId: '0001', bus: 'other' },
      { node: '/dev/input/event9', byId: undefined, name: 'BARCODE SCANNER Keyboard', vendorId: '0000', productId: '0000', bus: 'bluetooth' },
    ],
    out: (l) => lines.push(l),
    ...over,
  };
  return { deps, lines };
}

describe('scanpay scanners', () => {
  it('lists ports and devices with kind, SOURCE spec and access', async () => {
    const { deps, lines } = fakes();
    await listScanners(deps);
    const text = lines.join('\n');
    expect(text).toContain('/dev/scanpay-test-ttyACM0  [05e0:1200]  Zebra');
    expect(text).toContain('serial scanner (USB CDC); SOURCE serial:/dev/scanpay-test-ttyACM0?terminator=cr');
    expect(text).toContain('USB-serial adapter (RS-232 scanner behind it?)');
    expect(text).toContain('HID POS scanner (usage page 0x8C); SOURCE hid:0c2e:0b61?mode=pos');
    expect(text).toContain('keyboard (or a wedge scanner); SOURCE hid:046d:c31c?mode=wedge');
    expect(text).toContain('this user cannot open it: udev rule: SUBSYSTEM=="usb", ATTR{idVendor}=="0c2e"');
  });

  it('recognises scanners on libusb without a usage page, from the product id tables', async () => {
    const { deps, lines } = fakes();
    await listScanners(deps);
    const text = lines.join('\n');
    expect(text).toContain('1-1.2:1.0  [1eab:1310]  Newland EM30');
    expect(text).toContain('HID POS scanner (HID POS product id); SOURCE hid:1eab:1310?mode=pos');
    expect(text).toContain('keyboard-wedge scanner: better read as an input device (see the evdev SOURCE below); SOURCE hid:05f9:2206?mode=wedge');
    expect(text).toContain('(the USB device node was not found in sysfs)');
  });

  it('lists keyboards that look like scanners with their evdev SOURCE and a udev rule scoped to them', async () => {
    const { deps, lines } = fakes();
    await listScanners(deps);
    const section = lines.slice(lines.indexOf('Keyboards and keyboard-wedge scanners (input devices)')).join('\n');
    expect(section).toContain('/dev/input/by-id/usb-Newland_EM30-event-kbd  [1eab:1303]  Newland EM30');
    expect(section).toContain('keyboard-wedge scanner (USB); SOURCE evdev:/dev/input/by-id/usb-Newland_EM30-event-kbd');
    expect(section).toContain('SUBSYSTEM=="input", KERNEL=="event*", ATTRS{idVendor}=="1eab", ATTRS{idProduct}=="1303", GROUP="scanpay", MODE="0640"');
    expect(section).toContain('keyboard (input device; no /dev/input/by-id link: /dev/input/event2 may change after a reboot); SOURCE evdev:/dev/input/event2');
    expect(section).toContain('keyboard-wedge scanner (Bluetooth');
    expect(section).toContain('ATTRS{name}=="BARCODE SCANNER Keyboard"');
    expect(section).not.toContain('GROUP="input"');
  });

  it('listen: without SOURCE picks a wedge scanner found among the keyboards', async () => {
    const stop = new AbortController();
    const lines: string[] = [];
    const { deps } = fakes({
      listSerial: async () => [],
      listHid: async () => [],
      out: (line) => {
        lines.push(line);
        // It tries to open the scanner it found (there is none on this machine), and retries.
        if (line.includes('SCAN_DEVICE_NOT_FOUND')) stop.abort();
      },
    });
    await listen(undefined, { ...deps, stdin: new PassThrough(), signal: stop.signal, feedback: false });
    expect(lines[0]).toContain('listening on evdev:/dev/input/by-id/usb-Newland_EM30-event-kbd');
    expect(lines.at(-1)).toContain('no input device at /dev/input/by-id/usb-Newland_EM30-event-kbd');
  });

  it('listen: without SOURCE, a list that failed to load is the error, not "no device looks like a scanner"', async () => {
    const missing = new ScanpayError('SCAN_NATIVE_LIBRARY_MISSING', { message: 'node-hid needs the libusb library: apt-get install libusb-1.0-0' });
    const { deps } = fakes({
      listSerial: async () => [],
      listHid: async () => {
        throw missing;
      },
      listInput: async () => [],
    });
    await expect(listen(undefined, { ...deps, stdin: new PassThrough(), signal: new AbortController().signal, feedback: false })).rejects.toBe(missing);
  });

  it('still lists HID devices when serial listing fails, saying what to install', async () => {
    const { deps, lines } = fakes({
      listSerial: async () => {
        throw new ScanpayError('SCAN_NATIVE_LIBRARY_MISSING', { message: 'listing serial ports needs udevadm: apt-get install udev' });
      },
    });
    await listScanners(deps);
    expect(lines[1]).toBe('  cannot list: SCAN_NATIVE_LIBRARY_MISSING: listing serial ports needs udevadm: apt-get install udev');
    expect(lines.join('\n')).toContain('hid:0c2e:0b61?mode=pos');
  });

  it('listen: prints masked scans with what scanpay makes of them, until the input ends', async () => {
    const { deps, lines } = fakes();
    const stdin = new PassThrough();
    const done = listen('virtual:x', { ...deps, stdin, signal: new AbortController().signal, feedback: true });
    stdin.end('134567890123456789\n134567890123456789\n4006381333931\nab\u0001cd\n');
    await done;
    const text = lines.join('\n');
    expect(text).toMatch(/13\*{12}6789 {2}symbology not reported {2}WeChat Pay payment code/);
    expect(text).toContain('40*******3931  symbology not reported  product barcode (EAN-13), not a payment code');
    expect(text).toContain('rejected  SCAN_FRAME_INVALID');
    expect(text).not.toContain('134567890123456789');
    expect(lines.filter((l) => l.includes('WeChat Pay'))).toHaveLength(1);
  });

  it('listen: stops on Ctrl-C', async () => {
    const { deps, lines } = fakes();
    const interrupt = new AbortController();
    const done = listen('virtual:x', { ...deps, stdin: new PassThrough(), signal: interrupt.signal, feedback: false });
    interrupt.abort();
    await done;
    expect(lines[0]).toContain('listening on virtual:x');
  });

  it('listen: picks the first likely scanner when no SOURCE is given, and says why it cannot', async () => {
    const { deps } = fakes({ listSerial: async () => [], listHid: async () => [], listInput: async () => [] });
    await expect(listen(undefined, { ...deps, stdin: new PassThrough(), signal: new AbortController().signal, feedback: false })).rejects.toThrow(/no device looks like a scanner/);
  });

  it('listen: decodes an image and ends with the input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanpay-cli-'));
    try {
      writeFileSync(join(dir, 'a.png'), pngBytes(onCanvas(qrFrame('281234567890123456', 4), 300, 200)));
      const { deps, lines } = fakes();
      await listen(`image:${dir}`, { ...deps, stdin: new PassThrough(), signal: new AbortController().signal, feedback: false });
      expect(lines.join('\n')).toMatch(/28\*{12}3456 {2}QR Code {2}Alipay payment code/);
      expect(lines.at(-1)).toContain('disconnected  (input ended)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the real binary lists and listens (node agent/bin/scanpay.js)', async () => {
    const run = (args: string[], input: string) =>
      new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, ['agent/bin/scanpay.js', ...args], { cwd: new URL('../..', import.meta.url).pathname });
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d));
        child.on('close', (code) => resolve({ code, stdout }));
        child.stdin.end(input);
      });
    const list = await run(['scanners'], '');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^Serial ports\n[\s\S]*USB HID devices \(libusb\)\n[\s\S]*Keyboards and keyboard-wedge scanners \(input devices\)\n/);
    const heard = await run(['scanners', 'listen', 'virtual:x'], '134567890123456789\n');
    expect(heard.code).toBe(0);
    expect(heard.stdout).toContain('WeChat Pay payment code');
    // Two process starts under tsx: generous for a loaded machine, never a timing assertion.
  }, 120_000);
});
