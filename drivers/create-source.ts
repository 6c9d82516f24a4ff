/**
 * Builds a scanner source from a SOURCE spec string, the one way configuration and the
 * CLI name scanners. The grammar is documented in docs/scanners.md:
 *
 *   serial:/dev/ttyACM0?baud=9600&terminator=cr     serial:usb=05e0:1200
 *   hid:0c2e:0b61?mode=pos|wedge&layout=us|de&report=aim|plain
 *   evdev:/dev/input/by-id/usb-…-event-kbd?layout=us&terminator=enter
 *   camera:/dev/video0?fps=10&width=1280&height=720
 *   image:/path/to/file-or-dir                      pipe:-?width=640&height=480&format=gray
 *   frames:/path?width=&height=&format=rgba         virtual:name
 *
 * Options are validated here, once, with messages that name the option and the fix; the
 * driver itself is loaded when the source is first opened (see lazy-source.ts), so a
 * spec error shows at start-up and an unused driver is never loaded.
 */
import type { Readable } from 'node:stream';
import * as z from 'zod';
import type { Clock } from '../agent/clock.ts';
import { ScanpayError } from '../agent/errors.ts';
import type { OpenHid } from './hid/hid-device.ts';
import type { DecoderName } from './image/decoder-client.ts';
import { LAYOUT_NAMES } from './keyboard/layouts.ts';
import { LazySource } from './lazy-source.ts';
import type { ListSerial, OpenSerial } from './serial/serial-port.ts';
import type { ScannerSource } from './source.ts';
import { VirtualSource } from './virtual.ts';

export const DEFAULTS = {
  baud: 9600,
  databits: 8,
  parity: 'none',
  stopbits: 1,
  terminator: 'cr',
  /** Silence that ends a frame with terminator=none: far above a scanner's byte gap, far below a person's scan rate. */
  idle: 50,
  /** Bytes a driver buffers before it cuts a frame off; the manager's own limit is lower. */
  max: 4096,
  mode: 'pos',
  report: 'aim',
  /** USB polls a scanner every 1-10 ms: a chained report later than this is not coming. */
  chain: 200,
  layout: 'us',
  hidTerminator: 'enter',
  /** Frames decoded per second from a camera: a phone is held up for a second or more. */
  fps: 10,
  width: 1280,
  height: 720,
  decoder: 'zxing-wasm',
} as const;

export interface CreateSourceDeps {
  clock: Clock;
  openSerial?: OpenSerial;
  listSerial?: ListSerial;
  openHid?: OpenHid;
  stdin?: Readable;
}

const flag = z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true');
const hexBytes = z
  .string()
  .regex(/^([0-9a-fA-F]{2})+$/, 'must be hex bytes, e.g. 1b07')
  .transform((h) => Buffer.from(h, 'hex'));
const positiveInt = z.coerce.number().int().positive();

const serialQuery = z
  .object({
    baud: positiveInt.default(DEFAULTS.baud),
    databits: z.coerce.number().pipe(z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)])).default(DEFAULTS.databits),
    parity: z.enum(['none', 'even', 'odd', 'mark', 'space']).default(DEFAULTS.parity),
    stopbits: z.coerce.number().pipe(z.union([z.literal(1), z.literal(1.5), z.literal(2)])).default(DEFAULTS.stopbits),
    terminator: z.enum(['cr', 'lf', 'crlf', 'none']).default(DEFAULTS.terminator),
    idle: positiveInt.optional(),
    prefix: z.string().optional(),
    suffix: z.string().optional(),
    aim: flag.default(false),
    good: hexBytes.optional(),
    bad: hexBytes.optional(),
    max: positiveInt.default(DEFAULTS.max),
  })
  .strict();

const layout = z.enum(LAYOUT_NAMES).default(DEFAULTS.layout);
const decoder = z.enum(['zxing-wasm', 'zxing-js']).default(DEFAULTS.decoder);

const hidQuery = z
  .object({
    mode: z.enum(['pos', 'wedge']).default(DEFAULTS.mode),
    report: z.enum(['aim', 'plain']).default(DEFAULTS.report),
    chain: positiveInt.default(DEFAULTS.chain),
    layout,
    terminator: z.enum(['enter', 'tab']).default(DEFAULTS.hidTerminator),
    aim: flag.default(false),
    good: hexBytes.optional(),
    bad: hexBytes.optional(),
    max: positiveInt.default(DEFAULTS.max),
  })
  .strict();

const evdevQuery = z
  .object({
    layout,
    terminator: z.enum(['enter', 'tab']).default(DEFAULTS.hidTerminator),
    grab: flag.default(true),
    aim: flag.default(false),
    max: positiveInt.default(DEFAULTS.max),
  })
  .strict();

const cameraQuery = z
  .object({
    fps: z.coerce.number().positive().max(60).default(DEFAULTS.fps),
    width: positiveInt.default(DEFAULTS.width),
    height: positiveInt.default(DEFAULTS.height),
    decoder,
  })
  .strict();

const rawQuery = z
  .object({
    width: positiveInt,
    height: positiveInt,
    format: z.enum(['gray', 'rgba']).default('gray'),
    decoder,
  })
  .strict();

const imageQuery = z.object({ decoder }).strict();
const noQuery = z.object({}).strict();

/** What to install when a driver's module does not load. */
const MISSING = {
  serial: 'run npm rebuild @serialport/bindings-cpp (needs apt-get install build-essential python3)',
  hid: 'run npm rebuild node-hid (needs apt-get install build-essential libusb-1.0-0-dev libudev-dev) and apt-get install libusb-1.0-0',
  evdev: 'run npm install koffi (it ships prebuilt binaries for Linux x64, arm64 and armhf)',
  image: 'run npm install (zxing-wasm and @zxing/library are dependencies of scanpay)',
} as const;

function invalid(spec: string, message: string): ScanpayError {
  return new ScanpayError('SCAN_SOURCE_SPEC_INVALID', { message: `${spec}: ${message} (see docs/scanners.md)`, detail: { spec } });
}

function parseQuery<T extends z.ZodType>(spec: string, schema: T, query: string): z.output<T> {
  const result = schema.safeParse(Object.fromEntries(new URLSearchParams(query)));
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => (i.path.length ? `"${i.path.join('.')}" ${i.message}` : i.message));
  throw invalid(spec, problems.join('; '));
}

const USB_ID = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/;

export function createSource(spec: string, deps: CreateSourceDeps): ScannerSource {
  const colon = spec.indexOf(':');
  if (colon < 0) throw invalid(spec, 'a SOURCE starts with serial:, hid:, evdev:, camera:, image:, pipe:, frames: or virtual:');
  const scheme = spec.slice(0, colon);
  const [target = '', query = ''] = spec.slice(colon + 1).split(/\?(.*)/s, 2);
  if (!target) throw invalid(spec, `${scheme}: needs a target after the colon`);
  const { clock } = deps;
  switch (scheme) {
    case 'serial': {
      const q = parseQuery(spec, serialQuery, query);
      const usb = target.startsWith('usb=') ? USB_ID.exec(target.slice(4)) : undefined;
      if (usb === null) throw invalid(spec, 'usb= takes vendor:product in hex, e.g. usb=05e0:1200');
      if (q.terminator === 'none' && q.idle === undefined) q.idle = DEFAULTS.idle;
      return new LazySource(
        spec,
        async () =>
          new (await import('./serial/serial-source.ts')).SerialSource(
            {
              id: spec,
              port: usb ? { vendorId: usb[1]!.toLowerCase(), productId: usb[2]!.toLowerCase() } : { path: target },
              baudRate: q.baud,
              dataBits: q.databits,
              parity: q.parity,
              stopBits: q.stopbits,
              terminator: q.terminator,
              idleMs: q.idle,
              prefix: q.prefix,
              suffix: q.suffix,
              aim: q.aim,
              feedback: { good: q.good, bad: q.bad },
              maxFrameBytes: q.max,
            },
            { clock, open: deps.openSerial, list: deps.listSerial },
          ),
        MISSING.serial,
      );
    }
    case 'hid': {
      const q = parseQuery(spec, hidQuery, query);
      const id = USB_ID.exec(target);
      if (!id) throw invalid(spec, 'hid: takes vendor:product in hex, e.g. hid:0c2e:0b61');
      return new LazySource(
        spec,
        async () =>
          new (await import('./hid/hid-source.ts')).HidSource(
            {
              id: spec,
              vendorId: parseInt(id[1]!, 16),
              productId: parseInt(id[2]!, 16),
              mode: q.mode,
              report: q.report,
              chainMs: q.chain,
              layout: q.layout,
              terminator: q.terminator,
              aim: q.aim,
              feedback: { good: q.good, bad: q.bad },
              maxFrameBytes: q.max,
            },
            { clock, open: deps.openHid },
          ),
        MISSING.hid,
      );
    }
    case 'evdev': {
      const q = parseQuery(spec, evdevQuery, query);
      return new LazySource(
        spec,
        async () =>
          new (await import('./evdev/evdev-source.ts')).EvdevSource(
            { id: spec, path: target, layout: q.layout, terminator: q.terminator, grab: q.grab, aim: q.aim, maxFrameBytes: q.max },
            { clock },
          ),
        MISSING.evdev,
      );
    }
    case 'camera': {
      const q = parseQuery(spec, cameraQuery, query);
      return new LazySource(
        spec,
        async () =>
          new (await import('./camera/camera-source.ts')).CameraSource(
            { id: spec, device: target, fps: q.fps, width: q.width, height: q.height, decoder: q.decoder as DecoderName },
            { clock },
          ),
        MISSING.image,
      );
    }
    case 'image': {
      const q = parseQuery(spec, imageQuery, query);
      return new LazySource(
        spec,
        async () => new (await import('./image/frame-source.ts')).FrameSource({ id: spec, input: { kind: 'images', path: target }, decoder: q.decoder }, { clock, stdin: deps.stdin }),
        MISSING.image,
      );
    }
    case 'pipe':
    case 'frames': {
      const { decoder: name, ...raw } = parseQuery(spec, rawQuery, query);
      return new LazySource(
        spec,
        async () => new (await import('./image/frame-source.ts')).FrameSource({ id: spec, input: { kind: 'raw', path: target, ...raw }, decoder: name }, { clock, stdin: deps.stdin }),
        MISSING.image,
      );
    }
    case 'virtual':
      parseQuery(spec, noQuery, query);
      return new VirtualSource(spec, { clock });
    default:
      throw invalid(spec, `unknown source type "${scheme}": use serial, hid, evdev, camera, image, pipe, frames or virtual`);
  }
}
