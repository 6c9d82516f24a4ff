/**
 * The one place that touches `node-hid`. It hands the rest of the driver a narrow
 * HidDevice (reports in, bytes out), so a recorded device can stand in for a real one,
 * and turns native failures into errors that say what to install or which udev rule to add.
 *
 * node-hid picks its backend once per process. scanpay always asks for libusb: keyboard-
 * wedge scanners must be read exclusively (libusb detaches the kernel keyboard driver so
 * the keystrokes do not also reach the focused window), and HID POS scanners work on it too.
 */
import { createRequire } from 'node:module';
import type * as NodeHid from 'node-hid';
import { ScanpayError } from '../../agent/errors.ts';

export interface HidDevice {
  onReport(listener: (report: Buffer) => void): void;
  /** Called once when the device stops answering (unplugged) unless `close()` was called. */
  onLost(listener: (error: ScanpayError) => void): void;
  write(bytes: Buffer): Promise<void>;
  close(): Promise<void>;
}

export type HidMode = 'pos' | 'wedge';

export interface HidTarget {
  vendorId: number;
  productId: number;
  mode: HidMode;
}

export interface HidDeviceInfo {
  vendorId: number;
  productId: number;
  path: string | undefined;
  manufacturer: string | undefined;
  product: string | undefined;
  usagePage: number | undefined;
  usage: number | undefined;
  interface: number;
}

export type OpenHid = (target: HidTarget) => Promise<HidDevice>;
export type ListHid = () => Promise<HidDeviceInfo[]>;

export const HID_POS_USAGE_PAGE = 0x8c;
const GENERIC_DESKTOP = 0x01;
const KEYBOARD_USAGE = 0x06;

export const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

export function hidUdevRule(vendorId: number, productId: number): string {
  return `SUBSYSTEM=="usb", ATTR{idVendor}=="${hex4(vendorId)}", ATTR{idProduct}=="${hex4(productId)}", MODE="0660", GROUP="plugdev"`;
}

let loaded: typeof NodeHid | undefined;

function nodeHid(): typeof NodeHid {
  if (!loaded) {
    const hid = createRequire(import.meta.url)('node-hid') as typeof NodeHid;
    hid.setDriverType('libusb');
    loaded = hid;
  }
  return loaded;
}

/** Maps a node-hid failure to a catalog error whose message is the fix. */
export function hidError(e: unknown, target?: Omit<HidTarget, 'mode'>): ScanpayError {
  const text = e instanceof Error ? e.message : String(e);
  const id = target ? `${hex4(target.vendorId)}:${hex4(target.productId)}` : undefined;
  if (/libusb-1\.0\.so|libusb/i.test(text) && /cannot open shared object|not found|No such file/i.test(text)) {
    return new ScanpayError('SCAN_NATIVE_LIBRARY_MISSING', {
      message: 'node-hid needs the libusb library: apt-get install libusb-1.0-0',
      cause: e,
    });
  }
  if (/libudev/i.test(text)) {
    return new ScanpayError('SCAN_NATIVE_LIBRARY_MISSING', { message: 'node-hid needs libudev: apt-get install libudev1 udev', cause: e });
  }
  if (/Could not locate the bindings|node-napi|\.node/i.test(text)) {
    return new ScanpayError('SCAN_NATIVE_LIBRARY_MISSING', {
      message: 'the node-hid native module is missing for this platform: run npm rebuild node-hid (needs apt-get install build-essential libusb-1.0-0-dev libudev-dev)',
      cause: e,
    });
  }
  if (target && /cannot open device|could not open|access|permission/i.test(text)) {
    return new ScanpayError('SCAN_DEVICE_ACCESS_DENIED', {
      message: `cannot open USB device ${id}: it is in use, or this user lacks access. Add the udev rule ${hidUdevRule(target.vendorId, target.productId)} to /etc/udev/rules.d/70-scanpay.rules, run udevadm control --reload && udevadm trigger, and replug the scanner`,
      cause: e,
      detail: { device: id },
    });
  }
  return new ScanpayError('SCAN_DEVICE_IO', { message: `USB HID${id ? ` ${id}` : ''}: ${text}`, cause: e, ...(id ? { detail: { device: id } } : {}) });
}

export const listHidDevices: ListHid = async () => {
  try {
    const devices = await nodeHid().devicesAsync();
    return devices.map((d) => ({
      vendorId: d.vendorId,
      productId: d.productId,
      path: d.path,
      manufacturer: d.manufacturer,
      product: d.product,
      usagePage: d.usagePage,
      usage: d.usage,
      interface: d.interface,
    }));
  } catch (e) {
    throw hidError(e);
  }
};

/** Among a composite device's interfaces, the one that carries the scans in this mode. */
export function pickInterface<T extends { usagePage?: number | undefined; usage?: number | undefined }>(interfaces: T[], mode: HidMode): T | undefined {
  const wanted =
    mode === 'pos'
      ? interfaces.find((d) => d.usagePage === HID_POS_USAGE_PAGE)
      : interfaces.find((d) => d.usagePage === GENERIC_DESKTOP && d.usage === KEYBOARD_USAGE);
  return wanted ?? interfaces[0];
}

export const openHidDevice: OpenHid = async (target) => {
  const hid = nodeHid();
  let device: NodeHid.HIDAsync;
  try {
    const info = pickInterface(await hid.devicesAsync(target.vendorId, target.productId), target.mode);
    if (!info?.path) {
      throw new ScanpayError('SCAN_DEVICE_NOT_FOUND', {
        message: `no USB HID device ${hex4(target.vendorId)}:${hex4(target.productId)}: is the scanner plugged in and in USB HID mode?`,
        detail: { device: `${hex4(target.vendorId)}:${hex4(target.productId)}` },
      });
    }
    device = await hid.HIDAsync.open(info.path);
  } catch (e) {
    throw e instanceof ScanpayError ? e : hidError(e, target);
  }
  let closing = false;
  return {
    onReport: (listener) => void device.on('data', (data: Buffer) => listener(Buffer.from(data))),
    onLost: (listener) => {
      device.once('error', (err: unknown) => {
        if (closing) return;
        listener(new ScanpayError('SCAN_DEVICE_DISCONNECTED', { message: `USB HID ${hex4(target.vendorId)}:${hex4(target.productId)} went away`, cause: err }));
      });
    },
    write: async (bytes) => {
      try {
        await device.write(bytes);
      } catch (e) {
        throw hidError(e, target);
      }
    },
    close: async () => {
      closing = true;
      await device.close();
    },
  };
};
