/**
 * What hidapi's libusb backend does not tell: the usage page of an interface, its class
 * and boot protocol, and the /dev/bus/usb node libusb opens. All of it is in sysfs, keyed
 * by the same bus-port path hidapi gives (`1-1.2:1.0`: bus 1, ports 1.2, configuration 1,
 * interface 0). Older hidapi named devices `0001:0004:00` (bus, address, interface).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface UsbInterfaceFacts {
  /** The node libusb opens: this user needs read and write access to it. */
  devNode: string | undefined;
  interfaceNumber: number | undefined;
  /** bInterfaceClass: 3 is HID. */
  interfaceClass: number | undefined;
  /** bInterfaceProtocol of a boot interface: 1 keyboard, 2 mouse, 0 none (a HID POS scanner). */
  interfaceProtocol: number | undefined;
  /** From the report descriptor, when the kernel's HID driver has it (not while libusb holds the device). */
  usagePage: number | undefined;
  usage: number | undefined;
}

export const SYSFS_USB = '/sys/bus/usb/devices';

const pad3 = (n: number) => String(n).padStart(3, '0');

async function readNumber(file: string, radix: number): Promise<number | undefined> {
  try {
    const n = parseInt((await readFile(file, 'utf8')).trim(), radix);
    return Number.isNaN(n) ? undefined : n;
  } catch {
    return undefined;
  }
}

/** The first Usage Page and Usage of a HID report descriptor: what the top-level collection is. */
export function descriptorUsage(descriptor: Uint8Array): { usagePage: number | undefined; usage: number | undefined } {
  let usagePage: number | undefined;
  let usage: number | undefined;
  for (let i = 0; i < descriptor.length; ) {
    const prefix = descriptor[i]!;
    if (prefix === 0xfe) {
      // Long item: size in the next byte, then a tag byte.
      i += 3 + (descriptor[i + 1] ?? 0);
      continue;
    }
    const size = [0, 1, 2, 4][prefix & 0x03]!;
    let value = 0;
    for (let b = 0; b < size; b++) value |= (descriptor[i + 1 + b] ?? 0) << (8 * b);
    const item = prefix & 0xfc;
    if (item === 0x04 && usagePage === undefined) usagePage = value >>> 0;
    else if (item === 0x08 && usage === undefined) usage = size === 4 ? value & 0xffff : value;
    else if (item === 0xa0) break; // Collection: the top-level usage is known by now
    i += 1 + size;
  }
  return { usagePage, usage };
}

export async function usbFacts(hidPath: string | undefined, root = SYSFS_USB, devRoot = '/dev/bus/usb'): Promise<UsbInterfaceFacts> {
  const none: UsbInterfaceFacts = { devNode: undefined, interfaceNumber: undefined, interfaceClass: undefined, interfaceProtocol: undefined, usagePage: undefined, usage: undefined };
  if (!hidPath) return none;
  const old = /^([0-9a-f]{4}):([0-9a-f]{4}):([0-9a-f]{2})$/i.exec(hidPath);
  if (old) return { ...none, devNode: join(devRoot, pad3(parseInt(old[1]!, 16)), pad3(parseInt(old[2]!, 16))), interfaceNumber: parseInt(old[3]!, 16) };
  const m = /^(\d+-[\d.]+):(\d+)\.(\d+)$/.exec(hidPath);
  if (!m) return none;
  const device = join(root, m[1]!);
  const iface = join(root, hidPath);
  const [bus, address, interfaceClass, interfaceProtocol] = await Promise.all([
    readNumber(join(device, 'busnum'), 10),
    readNumber(join(device, 'devnum'), 10),
    readNumber(join(iface, 'bInterfaceClass'), 16),
    readNumber(join(iface, 'bInterfaceProtocol'), 16),
  ]);
  let usage: { usagePage: number | undefined; usage: number | undefined } = { usagePage: undefined, usage: undefined };
  try {
    // The HID driver's node is named like 0003:0C2E:0B61.0001.
    const hidNode = (await readdir(iface)).find((e) => /^[0-9A-F]{4}:[0-9A-F]{4}:[0-9A-F]{4}\.[0-9A-F]+$/i.test(e));
    if (hidNode) usage = descriptorUsage(await readFile(join(iface, hidNode, 'report_descriptor')));
  } catch {
    // No descriptor while libusb holds the interface: the other facts still help.
  }
  return {
    devNode: bus !== undefined && address !== undefined ? join(devRoot, pad3(bus), pad3(address)) : undefined,
    interfaceNumber: Number(m[3]),
    interfaceClass,
    interfaceProtocol,
    ...usage,
  };
}
