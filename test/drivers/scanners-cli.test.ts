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
      { vendorId: 0x0c2e, productId: 0x0b61, path: '0001:0004:00', manufacturer: 'Honeywell', product: 'Xenon', usagePage: 0x8c, usage: 0x02, interface: 0 },
      { vendorId: 0x046d, productId: 0xc31c, path: '0001:0005:00', manufacturer: 'Logitech', product: 'Keyboard', usagePage: 0x01, usage: 0x06, interface: 0 },
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
    const { deps } = fakes({ listSerial: async () => [], listHid: async () => [] });
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
    expect(list.stdout).toMatch(/^Serial ports\n[\s\S]*USB HID devices\n/);
    const heard = await run(['scanners', 'listen', 'virtual:x'], '134567890123456789\n');
    expect(heard.code).toBe(0);
    expect(heard.stdout).toContain('WeChat Pay payment code');
  });
});
