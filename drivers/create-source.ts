/**
 * Builds a scanner source from a SOURCE spec string, the one way configuration and the
 * CLI name scanners. The grammar is documented in docs/scanners.md:
 *
 *   serial:/dev/ttyACM0?baud=9600&terminator=cr     serial:usb=05e0:1200
 *   hid:0c2e:0b61?mode=pos|wedge&layout=us|de        image:/path/to/file-or-dir
 *   pipe:-?width=640&height=480&format=gray          frames:/path?width=&height=&format=rgba
 *   virtual:name
 *
 * Options are validated here, once, with messages that name the option and the fix.
 */
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { Clock } from '../agent/clock.ts';
import { ScanpayError } from '../agent/errors.ts';
import { HidSource } from './hid/hid-source.ts';
import type { OpenHid } from './hid/hid-device.ts';
import { FrameSource } from './image/frame-source.ts';
import { SerialSource } from './serial/serial-source.ts';
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
  layout: 'us',
  hidTerminator: 'enter',
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

const hidQuery = z
  .object({
    mode: z.enum(['pos', 'wedge']).default(DEFAULTS.mode),
    layout: z.enum(['us', 'de']).default(DEFAULTS.layout),
    terminator: z.enum(['enter', 'tab']).default(DEFAULTS.hidTerminator),
    aim: flag.default(false),
    good: hexBytes.optional(),
    bad: hexBytes.optional(),
    max: positiveInt.default(DEFAULTS.max),
  })
  .strict();

const rawQuery = z
  .object({
    width: positiveInt,
    height: positiveInt,
    format: z.enum(['gray', 'rgba']).default('gray'),
  })
  .strict();

const noQuery = z.object({}).strict();

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
  if (colon < 0) throw invalid(spec, 'a SOURCE starts with serial:, hid:, image:, pipe:, frames: or virtual:');
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
      return new SerialSource(
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
      );
    }
    case 'hid': {
      const q = parseQuery(spec, hidQuery, query);
      const id = USB_ID.exec(target);
      if (!id) throw invalid(spec, 'hid: takes vendor:product in hex, e.g. hid:0c2e:0b61');
      return new HidSource(
        {
          id: spec,
          vendorId: parseInt(id[1]!, 16),
          productId: parseInt(id[2]!, 16),
          mode: q.mode,
          layout: q.layout,
          terminator: q.terminator,
          aim: q.aim,
          feedback: { good: q.good, bad: q.bad },
          maxFrameBytes: q.max,
        },
        { clock, open: deps.openHid },
      );
    }
    case 'image':
      parseQuery(spec, noQuery, query);
      return new FrameSource({ id: spec, input: { kind: 'images', path: target } }, { clock, stdin: deps.stdin });
    case 'pipe':
    case 'frames': {
      const q = parseQuery(spec, rawQuery, query);
      return new FrameSource({ id: spec, input: { kind: 'raw', path: target, ...q } }, { clock, stdin: deps.stdin });
    }
    case 'virtual':
      parseQuery(spec, noQuery, query);
      return new VirtualSource(spec, { clock });
    default:
      throw invalid(spec, `unknown source type "${scheme}": use serial, hid, image, pipe, frames or virtual`);
  }
}
