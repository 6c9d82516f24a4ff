/**
 * EVIOCGRAB: while scanpay holds the grab, the scanner's keystrokes reach no one else
 * (not the focused window, not a console login). Node has no ioctl; koffi (a maintained
 * FFI with prebuilt binaries for Linux x64, arm64 and armhf inside its npm package, so no
 * compiler on the till) calls libc's. EVIOCREVOKE on close wakes a read that is waiting
 * on the device, which a plain close does not.
 */
import { ScanpayError } from '../../agent/errors.ts';

// _IOW('E', 0x90, int) and _IOW('E', 0x91, int) from linux/input.h.
const EVIOCGRAB = 0x40044590;
const EVIOCREVOKE = 0x40044591;
const EBUSY = 16;
const EINVAL = 22;
const ENOTTY = 25;

type Ioctl = (fd: number, request: number, arg: number) => number;

let ioctlFn: Promise<{ ioctl: Ioctl; errno: () => number }> | undefined;

function libc(): Promise<{ ioctl: Ioctl; errno: () => number }> {
  ioctlFn ??= import('koffi').then(
    ({ default: koffi }) => {
      const lib = koffi.load('libc.so.6');
      return { ioctl: lib.func('int ioctl(int fd, unsigned long request, intptr_t arg)') as Ioctl, errno: () => koffi.errno() };
    },
    (e: unknown) => {
      ioctlFn = undefined;
      throw new ScanpayError('SCAN_NATIVE_LIBRARY_MISSING', {
        message: 'grabbing an input device needs the koffi module: run npm install (koffi ships prebuilt binaries for Linux x64, arm64 and armhf)',
        cause: e,
      });
    },
  );
  return ioctlFn;
}

export async function grab(fd: number, path: string): Promise<void> {
  const { ioctl, errno } = await libc();
  if (ioctl(fd, EVIOCGRAB, 1) === 0) return;
  const code = errno();
  if (code === EBUSY) {
    throw new ScanpayError('SCAN_DEVICE_ACCESS_DENIED', {
      message: `${path} is grabbed by another program (another scanpay, a kiosk browser?): stop it, or use grab=0 to share the keystrokes`,
      detail: { path, errno: code },
    });
  }
  if (code === ENOTTY || code === EINVAL) {
    throw new ScanpayError('SCAN_DEVICE_IO', {
      message: `${path} is not an input event device (EVIOCGRAB refused, errno ${code}): use the /dev/input/by-id/…-event-kbd link that \`scanpay scanners\` shows`,
      detail: { path, errno: code },
    });
  }
  throw new ScanpayError('SCAN_DEVICE_IO', { message: `cannot grab ${path}: errno ${code}`, detail: { path, errno: code } });
}

/** Ends the grab and wakes any read waiting on the device. Best effort: the fd is closed next. */
export async function revoke(fd: number): Promise<void> {
  const { ioctl } = await libc();
  ioctl(fd, EVIOCGRAB, 0);
  ioctl(fd, EVIOCREVOKE, 0);
}
