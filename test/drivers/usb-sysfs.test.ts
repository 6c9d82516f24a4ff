/**
 * What hidapi's libusb backend leaves out, read from sysfs: tested on a sysfs tree laid
 * out as the kernel does (this machine has no USB device), with report descriptors from
 * the HID specification.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasLetterKeys, listInputKeyboards } from '../../drivers/evdev/list-input.ts';
import { descriptorUsage, usbFacts } from '../../drivers/hid/usb-sysfs.ts';

/** HID 1.11 Appendix B.1, the boot keyboard report descriptor (start). */
const BOOT_KEYBOARD = Buffer.from('05010906a101050719e029e71500250175019508810295017508810395057501050819012905910295017503910395067508150025650507190029658100c0', 'hex');
/** A HID POS scanner's top-level collection: usage page 0x8C (two-byte item), usage 0x02 (scanner). */
const POS_SCANNER = Buffer.from('068c000902a1010912a10285020912150026ff0075089501b102c0c0', 'hex');

describe('report descriptors', () => {
  it('finds the top-level usage of a boot keyboard and of a HID POS scanner', () => {
    expect(descriptorUsage(BOOT_KEYBOARD)).toEqual({ usagePage: 0x01, usage: 0x06 });
    expect(descriptorUsage(POS_SCANNER)).toEqual({ usagePage: 0x8c, usage: 0x02 });
  });

  it('skips long items and survives truncation', () => {
    expect(descriptorUsage(Buffer.from([0xfe, 0x02, 0x10, 0xaa, 0xbb, 0x05, 0x8c, 0x09, 0x02]))).toEqual({ usagePage: 0x8c, usage: 0x02 });
    expect(descriptorUsage(Buffer.from([0x06, 0x8c]))).toEqual({ usagePage: 0x8c, usage: undefined });
  });
});

describe('sysfs trees', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'scanpay-sysfs-'));
    const usb = join(root, 'bus/usb/devices');
    const write = (path: string, text: string | Buffer) => {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, text);
    };
    write(join(usb, '1-1.2/busnum'), '1\n');
    write(join(usb, '1-1.2/devnum'), '7\n');
    write(join(usb, '1-1.2:1.0/bInterfaceClass'), '03\n');
    write(join(usb, '1-1.2:1.0/bInterfaceProtocol'), '00\n');
    write(join(usb, '1-1.2:1.0/0003:1EAB:1310.0004/report_descriptor'), POS_SCANNER);
    write(join(usb, '1-1.2:1.1/bInterfaceClass'), '03\n');
    write(join(usb, '1-1.2:1.1/bInterfaceProtocol'), '01\n');

    const input = join(root, 'class/input');
    const dev = join(root, 'dev/input');
    mkdirSync(join(dev, 'by-id'), { recursive: true });
    const event = (n: number, name: string, bus: string, vendor: string, product: string, keys: string) => {
      write(join(input, `event${n}/device/name`), `${name}\n`);
      write(join(input, `event${n}/device/id/bustype`), `${bus}\n`);
      write(join(input, `event${n}/device/id/vendor`), `${vendor}\n`);
      write(join(input, `event${n}/device/id/product`), `${product}\n`);
      write(join(input, `event${n}/device/capabilities/key`), `${keys}\n`);
    };
    // Capability bitmaps as the kernel prints them: a full keyboard, a mouse (buttons only).
    event(3, 'Newland EM30 Keyboard', '0003', '1eab', '1303', '1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe');
    event(4, 'Logitech USB Optical Mouse', '0003', '046d', 'c077', '1f0000 0 0 0 0');
    event(12, 'BARCODE SCANNER Keyboard', '0005', '0000', '0000', 'e080ffdf01cfffff fffffffffffffffe');
    symlinkSync('../event3', join(dev, 'by-id/usb-Newland_EM30-event-kbd'));
    symlinkSync('../event3', join(dev, 'by-id/usb-Newland_EM30-if01-event-mouse'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('maps a libusb bus-port path to its /dev/bus/usb node, usage page and boot protocol', async () => {
    const usb = join(root, 'bus/usb/devices');
    expect(await usbFacts('1-1.2:1.0', usb)).toEqual({ devNode: '/dev/bus/usb/001/007', interfaceNumber: 0, interfaceClass: 3, interfaceProtocol: 0, usagePage: 0x8c, usage: 0x02 });
    expect(await usbFacts('1-1.2:1.1', usb)).toMatchObject({ devNode: '/dev/bus/usb/001/007', interfaceNumber: 1, interfaceProtocol: 1, usagePage: undefined });
  });

  it('maps the older bus:address:interface paths too', async () => {
    expect(await usbFacts('0001:0004:00')).toMatchObject({ devNode: '/dev/bus/usb/001/004', interfaceNumber: 0 });
  });

  it('lists keyboards (devices with letter keys) with their stable by-id link, not mice', async () => {
    const keyboards = await listInputKeyboards({ sysClassInput: join(root, 'class/input'), devInput: join(root, 'dev/input') });
    expect(keyboards).toEqual([
      { node: join(root, 'dev/input/event3'), byId: join(root, 'dev/input/by-id/usb-Newland_EM30-event-kbd'), name: 'Newland EM30 Keyboard', vendorId: '1eab', productId: '1303', bus: 'usb' },
      { node: join(root, 'dev/input/event12'), byId: undefined, name: 'BARCODE SCANNER Keyboard', vendorId: '0000', productId: '0000', bus: 'bluetooth' },
    ]);
  });

  it('reads key capability bitmaps of 32- and 64-bit kernels', () => {
    expect(hasLetterKeys('fffffffffffffffe')).toBe(true);
    expect(hasLetterKeys('ffffffff fffffffe')).toBe(true);
    expect(hasLetterKeys('ffffffff bfffffff')).toBe(false);
    expect(hasLetterKeys('1f0000 0 0 0 0')).toBe(false);
  });
});
