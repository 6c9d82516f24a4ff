/**
 * The one place that touches the `serialport` package: opening a port as a narrow
 * SerialLink, listing ports, and turning its failures into ScanpayErrors that say what to
 * do. Everything else in the serial driver works on SerialLink, so tests could swap it.
 */
import { statSync } from 'node:fs';
import type { SerialPort as SerialPortClass } from 'serialport';
import { ScanpayError, isScanpayError } from '../../agent/errors.ts';

/** Loaded on first use: listing scanners or opening a serial one, never at start-up. */
async function serialPortClass(): Promise<typeof SerialPortClass> {
  try {
    return (await import('serialport')).SerialPort;
  } catch (e) {
    // Whatever the loader says, the cure is the same: the package or its binding is not installed.
    throw new ScanpayError('SCAN_NATIVE_LIBRARY_MISSING', {
      message: `the serialport module could not be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)}): run npm install, then npm rebuild @serialport/bindings-cpp if its binding is missing (needs apt-get install build-essential python3)`,
      cause: e,
    });
  }
}

export interface SerialLink {
  onData(listener: (chunk: Buffer) => void): void;
  /** Called once when the port closes for any reason other than `close()`. */
  onLost(listener: (error: ScanpayError) => void): void;
  write(bytes: Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface SerialOpenOptions {
  path: string;
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: 'none' | 'even' | 'odd' | 'mark' | 'space';
  stopBits: 1 | 1.5 | 2;
}

export interface SerialPortInfo {
  path: string;
  vendorId: string | undefined;
  productId: string | undefined;
  manufacturer: string | undefined;
  serialNumber: string | undefined;
}

export type OpenSerial = (options: SerialOpenOptions) => Promise<SerialLink>;
export type ListSerial = () => Promise<SerialPortInfo[]>;

export function serialUdevRule(vendorId = 'VVVV', productId = 'PPPP'): string {
  return `SUBSYSTEM=="tty", ATTRS{idVendor}=="${vendorId}", ATTRS{idProduct}=="${productId}", MODE="0660", GROUP="scanpay"`;
}

/** Maps an open/list failure to a catalog error whose message is the fix. */
export function serialError(e: unknown, path: string): ScanpayError {
  if (isScanpayError(e)) return e;
  const text = e instanceof Error ? e.message : String(e);
  if (/ENOENT|No such file|cannot open .*: no such/i.test(text) && !/udevadm/.test(text)) {
    return new ScanpayError('SCAN_DEVICE_NOT_FOUND', { message: `serial port ${path} does not exist: is the scanner plugged in?`, cause: e, detail: { path } });
  }
  if (/EACCES|Permission denied/i.test(text)) {
    return new ScanpayError('SCAN_DEVICE_ACCESS_DENIED', {
      message: `no permission to open ${path}: add this user to group scanpay (usermod -aG scanpay $USER, then log in again; group dialout for on-board /dev/ttyS* ports) and add a udev rule such as ${serialUdevRule()} to /etc/udev/rules.d/99-scanpay-scanners.rules (the shipped rules, docs/deploy/), then run udevadm control --reload && udevadm trigger`,
      cause: e,
      detail: { path },
    });
  }
  if (/udevadm/.test(text)) {
    return new ScanpayError('SCAN_NATIVE_LIBRARY_MISSING', {
      message: 'listing serial ports needs udevadm: apt-get install udev',
      cause: e,
    });
  }
  if (/bindings|\.node|Could not locate|NODE_MODULE_VERSION|Cannot find (module|package)/i.test(text)) {
    return new ScanpayError('SCAN_NATIVE_LIBRARY_MISSING', {
      message: 'the serialport native binding could not be loaded: run npm rebuild @serialport/bindings-cpp (needs apt-get install build-essential python3)',
      cause: e,
    });
  }
  return new ScanpayError('SCAN_DEVICE_IO', { message: `serial port ${path}: ${text}`, cause: e, detail: { path } });
}

export const listSerialPorts: ListSerial = async () => {
  try {
    const ports = await (await serialPortClass()).list();
    return ports.map((p) => ({
      path: p.path,
      vendorId: p.vendorId?.toLowerCase(),
      productId: p.productId?.toLowerCase(),
      manufacturer: p.manufacturer,
      serialNumber: p.serialNumber,
    }));
  } catch (e) {
    throw serialError(e, '(list)');
  }
};

/**
 * How often an open port's device node is checked. The serialport binding can miss a
 * hang-up that comes within milliseconds of a read (seen with ptys: the port stays "open"
 * forever), so a scanner unplugged right after a scan would never be noticed without it.
 */
const LIVENESS_MS = 1_000;

/** The device behind a path, to tell a vanished or replaced node from the one we opened. */
function deviceId(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}:${st.rdev}`;
  } catch {
    return undefined;
  }
}

export const openSerialPort: OpenSerial = async (options) => {
  const SerialPort = await serialPortClass();
  const port = new SerialPort({ ...options, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(serialError(err, options.path)) : resolve())));
  const opened = deviceId(options.path);
  let closing = false;
  let watch: NodeJS.Timeout | undefined;
  return {
    onData: (listener) => void port.on('data', listener),
    onLost: (listener) => {
      let reported = false;
      const lost = (err: unknown) => {
        clearInterval(watch);
        if (closing || reported) return;
        reported = true;
        listener(
          new ScanpayError('SCAN_DEVICE_DISCONNECTED', {
            message: `serial port ${options.path} went away`,
            cause: err,
            detail: { path: options.path },
          }),
        );
      };
      port.on('close', lost);
      port.on('error', lost);
      watch = setInterval(() => {
        if (deviceId(options.path) !== opened) lost(new Error('the device node vanished or was replaced'));
      }, LIVENESS_MS);
      watch.unref();
    },
    write: (bytes) =>
      new Promise<void>((resolve, reject) => {
        port.write(bytes, (err) => (err ? reject(serialError(err, options.path)) : port.drain(() => resolve())));
      }),
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        clearInterval(watch);
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
};
