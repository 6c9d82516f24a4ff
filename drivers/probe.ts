/**
 * What a technician needs to know about each port and USB device: what kind of scanner it
 * probably is, the SOURCE spec to use, and whether this user can open it.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { HID_POS_USAGE_PAGE, hex4, hidUdevRule, type HidDeviceInfo } from './hid/hid-device.ts';
import { serialUdevRule, type SerialPortInfo } from './serial/serial-port.ts';

export interface Probe {
  /** Device path or USB id, as the technician will recognise it. */
  device: string;
  usbId: string | undefined;
  name: string;
  kind: string;
  /** Whether it is likely a scanner at all: `scanners listen` with no SOURCE opens the first. */
  likelyScanner: boolean;
  spec: string;
  access: { ok: true } | { ok: false; fix: string };
}

/** USB vendors whose devices on a POS lane are almost always scanners. */
const SCANNER_VENDORS: Record<string, string> = {
  '0c2e': 'Honeywell',
  '05e0': 'Zebra/Symbol',
  '05f9': 'Datalogic',
  '1eab': 'Newland',
  '0536': 'Hand Held Products',
  '1a86': 'QinHeng (CH340 serial, common in budget scan boxes)',
  '2dd6': 'Sunmi',
  '34eb': 'Netum',
};

/** USB-to-RS-232 bridges: an RS-232 scanner may sit behind one. */
const SERIAL_BRIDGES: Record<string, string> = { '0403': 'FTDI', '067b': 'Prolific', '10c4': 'Silicon Labs CP210x' };

async function canOpen(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export async function probeSerial(port: SerialPortInfo): Promise<Probe> {
  const vid = port.vendorId;
  const usbId = vid && port.productId ? `${vid}:${port.productId}` : undefined;
  const vendor = vid ? (SCANNER_VENDORS[vid] ?? SERIAL_BRIDGES[vid]) : undefined;
  const kind = vid && SCANNER_VENDORS[vid] ? 'serial scanner (USB CDC)' : vid && SERIAL_BRIDGES[vid] ? 'USB-serial adapter (RS-232 scanner behind it?)' : vid ? 'USB serial device' : 'RS-232 port';
  return {
    device: port.path,
    usbId,
    name: port.manufacturer ?? vendor ?? '',
    kind,
    likelyScanner: Boolean(vid && SCANNER_VENDORS[vid]),
    spec: `serial:${port.path}?terminator=cr`,
    access: (await canOpen(port.path))
      ? { ok: true }
      : { ok: false, fix: `add this user to the dialout group, or a udev rule: ${serialUdevRule(vid, port.productId)}` },
  };
}

/** hidapi's libusb backend names devices bus:device:interface, e.g. 0001:0004:00. */
function usbNodeOf(path: string | undefined): string | undefined {
  const m = path && /^([0-9a-f]{4}):([0-9a-f]{4}):/i.exec(path);
  if (!m) return path?.startsWith('/dev/') ? path : undefined;
  return `/dev/bus/usb/${String(parseInt(m[1]!, 16)).padStart(3, '0')}/${String(parseInt(m[2]!, 16)).padStart(3, '0')}`;
}

export async function probeHid(d: HidDeviceInfo): Promise<Probe> {
  const usbId = `${hex4(d.vendorId)}:${hex4(d.productId)}`;
  const vendor = SCANNER_VENDORS[hex4(d.vendorId)];
  const pos = d.usagePage === HID_POS_USAGE_PAGE;
  const keyboard = d.usagePage === 0x01 && d.usage === 0x06;
  const kind = pos ? 'HID POS scanner (usage page 0x8C)' : keyboard ? (vendor ? 'keyboard-wedge scanner' : 'keyboard (or a wedge scanner)') : 'other HID device';
  const node = usbNodeOf(d.path);
  return {
    device: d.path ?? usbId,
    usbId,
    name: [d.manufacturer, d.product].filter(Boolean).join(' ') || (vendor ?? ''),
    kind,
    likelyScanner: pos || (keyboard && Boolean(vendor)),
    spec: `hid:${usbId}?mode=${pos ? 'pos' : 'wedge'}`,
    access: node && (await canOpen(node)) ? { ok: true } : { ok: false, fix: `udev rule: ${hidUdevRule(d.vendorId, d.productId)}` },
  };
}
