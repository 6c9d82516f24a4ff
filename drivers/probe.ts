/**
 * What a technician needs to know about each port, USB device and keyboard: what kind of
 * scanner it probably is, the SOURCE spec to use, and whether this user can open it.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { evdevUdevRule } from './evdev/udev.ts';
import type { InputKeyboard } from './evdev/list-input.ts';
import { hex4, hidUdevRule, isKeyboardInterface, isPosInterface, type HidDeviceInfo } from './hid/hid-device.ts';
import { productMode, SCANNER_VENDORS } from './hid/scanner-ids.ts';
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
  /** A udev rule that gives scanpay this device and nothing else, where one is needed. */
  udevRule?: string;
}

/** USB-to-RS-232 bridges: an RS-232 scanner may sit behind one. */
const SERIAL_BRIDGES: Record<string, string> = { '0403': 'FTDI', '067b': 'Prolific', '10c4': 'Silicon Labs CP210x' };

/** Names wedge scanners give themselves when their USB id says nothing. */
const SCANNER_NAME = /barcode|scanner|\bscan|honeywell|metrologic|zebra|symbol|datalogic|newland|netum|opticon|inateck|tera|eyoyo|sunmi|mindeo/i;

async function canOpen(path: string, mode = constants.R_OK | constants.W_OK): Promise<boolean> {
  try {
    await access(path, mode);
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
      : { ok: false, fix: `udev rule (group scanpay, as in docs/deploy/99-scanpay-scanners.rules): ${serialUdevRule(vid, port.productId)}` },
  };
}

/**
 * hidapi's libusb backend gives no usage page, so the kind comes from the report
 * descriptor in sysfs when the kernel has it, the boot keyboard protocol, or the product
 * id tables, in that order; access is checked on the /dev/bus/usb node libusb opens.
 */
export async function probeHid(d: HidDeviceInfo): Promise<Probe> {
  const vid = hex4(d.vendorId);
  const pid = hex4(d.productId);
  const usbId = `${vid}:${pid}`;
  const vendor = SCANNER_VENDORS[vid];
  const byId = productMode(vid, pid);
  const pos = isPosInterface(d) || (byId === 'pos' && !isKeyboardInterface(d));
  const keyboard = !pos && (isKeyboardInterface(d) || byId === 'keyboard');
  const kind = pos
    ? `HID POS scanner (${isPosInterface(d) ? 'usage page 0x8C' : 'HID POS product id'})`
    : keyboard
      ? vendor
        ? 'keyboard-wedge scanner: better read as an input device (see the evdev SOURCE below)'
        : 'keyboard (or a wedge scanner)'
      : vendor
        ? `${vendor} HID interface (mode not known: try mode=pos)`
        : 'other HID device';
  const node = d.devNode ?? (d.path?.startsWith('/dev/') ? d.path : undefined);
  return {
    device: d.path ?? usbId,
    usbId,
    name: [d.manufacturer, d.product].filter(Boolean).join(' ') || (vendor ?? ''),
    kind,
    likelyScanner: pos || (keyboard && Boolean(vendor)),
    spec: `hid:${usbId}?mode=${keyboard ? 'wedge' : 'pos'}`,
    access: node && (await canOpen(node)) ? { ok: true } : { ok: false, fix: `udev rule: ${hidUdevRule(d.vendorId, d.productId)}${node ? '' : ' (the USB device node was not found in sysfs)'}` },
  };
}

export async function probeKeyboard(k: InputKeyboard): Promise<Probe> {
  const usbId = k.vendorId && k.productId ? `${k.vendorId}:${k.productId}` : undefined;
  const vendor = k.vendorId ? SCANNER_VENDORS[k.vendorId] : undefined;
  const likelyScanner = Boolean(vendor) || SCANNER_NAME.test(k.name);
  const path = k.byId ?? k.node;
  const rule = evdevUdevRule(k);
  return {
    device: path,
    usbId,
    name: k.name || (vendor ?? ''),
    kind: `${likelyScanner ? 'keyboard-wedge scanner' : 'keyboard'} (${k.bus === 'usb' ? 'USB' : k.bus === 'bluetooth' ? 'Bluetooth' : 'input device'}${k.byId ? '' : `; no /dev/input/by-id link: ${k.node} may change after a reboot`})`,
    likelyScanner,
    spec: `evdev:${path}`,
    access: (await canOpen(k.node, constants.R_OK)) ? { ok: true } : { ok: false, fix: `udev rule (docs/deploy/99-scanpay-evdev.rules): ${rule}` },
    udevRule: rule,
  };
}
