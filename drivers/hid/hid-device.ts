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
import { usbFacts, type UsbInterfaceFacts } from './usb-sysfs.ts';

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
  /** From hidapi, or failing that (libusb backend) from the report descriptor in sysfs. */
  usagePage: number | undefined;
  usage: number | undefined;
  interface: number;
  /** bInterfaceProtocol from sysfs: 1 is a boot keyboard. */
  interfaceProtocol: number | undefined;
  /** The /dev/bus/usb node libusb opens, where sysfs says. */
  devNode: string | undefined;
}

export type OpenHid = (target: HidTarget) => Promise<HidDevice>;
export type ListHid = () => Promise<HidDeviceInfo[]>;

export const HID_POS_USAGE_PAGE = 0x8c;
const GENERIC_DESKTOP = 0x01;
const KEYBOARD_USAGE = 0x06;
const BOOT_KEYBOARD = 1;

export const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

export function hidUdevRule(vendorId: number, productId: number): string {
  return `SUBSYSTEM=="usb", ATTR{idVendor}=="${hex4(vendorId)}", ATTR{idProduct}=="${hex4(productId)}", MODE="0660", GROUP="scanpay"`;
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
      message: `cannot open USB device ${id}: it is in use, or this user lacks access. Add the udev rule ${hidUdevRule(target.vendorId, target.productId)} to /etc/udev/rules.d/99-scanpay-scanners.rules (the shipped rules, docs/deploy/), run udevadm control --reload && udevadm trigger, and replug the scanner`,
      cause: e,
      detail: { device: id },
    });
  }
  return new ScanpayError('SCAN_DEVICE_IO', { message: `USB HID${id ? ` ${id}` : ''}: ${text}`, cause: e, ...(id ? { detail: { device: id } } : {}) });
}

/** hidapi's answer completed from sysfs, where the libusb backend leaves gaps. */
export function withFacts(d: NodeHid.Device, facts: UsbInterfaceFacts): HidDeviceInfo {
  // The libusb backend reports usage page 0 ("unknown"), never a real page 0.
  const known = Boolean(d.usagePage);
  return {
    vendorId: d.vendorId,
    productId: d.productId,
    path: d.path,
    manufacturer: d.manufacturer,
    product: d.product,
    usagePage: known ? d.usagePage : facts.usagePage,
    usage: known ? d.usage : facts.usage,
    interface: d.interface,
    interfaceProtocol: facts.interfaceProtocol,
    devNode: facts.devNode,
  };
}

async function devices(vendorId?: number, productId?: number): Promise<HidDeviceInfo[]> {
  const hid = nodeHid();
  const found = vendorId === undefined ? await hid.devicesAsync() : await hid.devicesAsync(vendorId, productId!);
  return Promise.all(found.map(async (d) => withFacts(d, await usbFacts(d.path))));
}

export const listHidDevices: ListHid = async () => {
  try {
    return await devices();
  } catch (e) {
    throw hidError(e);
  }
};

type InterfaceFacts = Pick<HidDeviceInfo, 'usagePage' | 'usage' | 'interfaceProtocol'>;

export const isKeyboardInterface = (d: InterfaceFacts): boolean => (d.usagePage === GENERIC_DESKTOP && d.usage === KEYBOARD_USAGE) || d.interfaceProtocol === BOOT_KEYBOARD;
export const isPosInterface = (d: InterfaceFacts): boolean => d.usagePage === HID_POS_USAGE_PAGE;

/**
 * Among a composite device's interfaces (a scanner often has a keyboard and a POS or
 * vendor interface side by side), the one that carries the scans in this mode. Undefined
 * when nothing tells them apart: guessing interface 0 reads the wrong one half the time.
 */
export function pickInterface<T extends InterfaceFacts>(interfaces: T[], mode: HidMode): T | undefined {
  if (interfaces.length === 1) return interfaces[0];
  if (mode === 'wedge') return interfaces.find(isKeyboardInterface);
  return interfaces.find(isPosInterface) ?? onlyOne(interfaces.filter((d) => !isKeyboardInterface(d) && (d.usagePage === undefined || d.usagePage >= 0xff00)));
}

const onlyOne = <T>(xs: T[]): T | undefined => (xs.length === 1 ? xs[0] : undefined);

export const openHidDevice: OpenHid = async (target) => {
  const hid = nodeHid();
  let device: NodeHid.HIDAsync;
  const id = `${hex4(target.vendorId)}:${hex4(target.productId)}`;
  try {
    const interfaces = await devices(target.vendorId, target.productId);
    if (interfaces.length === 0) {
      throw new ScanpayError('SCAN_DEVICE_NOT_FOUND', { message: `no USB HID device ${id}: is the scanner plugged in and in USB HID mode?`, detail: { device: id } });
    }
    const info = pickInterface(interfaces, target.mode);
    if (!info?.path) {
      throw new ScanpayError('SCAN_DEVICE_NOT_FOUND', {
        message: `USB device ${id} has ${interfaces.length} HID interfaces and none is ${target.mode === 'pos' ? 'a HID POS' : 'a keyboard'} interface: try mode=${target.mode === 'pos' ? 'wedge' : 'pos'}, or set the scanner to USB ${target.mode === 'pos' ? 'HID POS' : 'keyboard'} mode`,
        detail: { device: id, interfaces: interfaces.map((d) => d.interface) },
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
