/**
 * `scanpay scanners`: lists serial ports, HID devices and keyboards (input devices) with
 * what each probably is, the SOURCE spec and udev rule to use, and whether this user can
 * open it. `scanpay scanners listen [SOURCE]` opens one source
 * through the scanner manager and prints each scan as the agent would receive it, masked,
 * with what scanpay makes of it, until Ctrl-C (or until a file/pipe input ends).
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { createSource } from '../../drivers/create-source.ts';
import { listInputKeyboards, type InputKeyboard } from '../../drivers/evdev/list-input.ts';
import { listHidDevices, type ListHid } from '../../drivers/hid/hid-device.ts';
import { probeHid, probeKeyboard, probeSerial, type Probe } from '../../drivers/probe.ts';
import { listSerialPorts, type ListSerial } from '../../drivers/serial/serial-port.ts';
import type { ScannerSource } from '../../drivers/source.ts';
import { VirtualSource } from '../../drivers/virtual.ts';
import { systemClock } from '../clock.ts';
import { ScanpayError, isScanpayError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { classifyCode, describeCode, maskCode } from '../payment-code.ts';
import { ScannerManager } from '../scanner-manager.ts';
import { registerScannersSet } from './scanners-set.ts';

type Out = (line: string) => void;

export interface ListDeps {
  listSerial: ListSerial;
  listHid: ListHid;
  /** Input devices (evdev); the real /sys/class/input listing unless given. */
  listInput?: () => Promise<InputKeyboard[]>;
  out: Out;
}

type Probed = Probe[] | ScanpayError;

export async function probeAll(deps: Omit<ListDeps, 'out'>): Promise<{ serial: Probed; hid: Probed; input: Probed }> {
  const asError = (e: unknown) => (isScanpayError(e) ? e : new ScanpayError('SCAN_DEVICE_IO', { message: String(e), cause: e }));
  const [serial, hid, input] = await Promise.all([
    deps.listSerial().then((ports) => Promise.all(ports.map(probeSerial)), asError),
    deps.listHid().then((devices) => Promise.all(devices.map(probeHid)), asError),
    (deps.listInput ?? listInputKeyboards)().then((keyboards) => Promise.all(keyboards.map(probeKeyboard)), asError),
  ]);
  return { serial, hid, input };
}

function printSection(out: Out, title: string, probes: Probe[] | ScanpayError): void {
  out(title);
  if (probes instanceof ScanpayError) return out(`  cannot list: ${probes.code}: ${probes.message}`);
  if (probes.length === 0) return out('  none found');
  for (const p of probes) {
    out(`  ${p.device}${p.usbId && p.usbId !== p.device ? `  [${p.usbId}]` : ''}${p.name ? `  ${p.name}` : ''}`);
    out(`    ${p.kind}; SOURCE ${p.spec}`);
    out(`    ${p.access.ok ? 'this user can open it' : `this user cannot open it: ${p.access.fix}`}`);
    if (p.udevRule && p.access.ok) out(`    udev rule for the scanpay service (docs/deploy/99-scanpay-evdev.rules): ${p.udevRule}`);
  }
}

export async function listScanners(deps: ListDeps): Promise<void> {
  const { serial, hid, input } = await probeAll(deps);
  printSection(deps.out, 'Serial ports', serial);
  printSection(deps.out, 'USB HID devices (libusb)', hid);
  printSection(deps.out, 'Keyboards and keyboard-wedge scanners (input devices)', input);
}

export interface ListenDeps extends ListDeps {
  stdin: Readable;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  /** Beep good for payment codes and bad for anything else, where the scanner can. */
  feedback: boolean;
}

async function defaultSource(deps: ListDeps): Promise<string> {
  const sections = Object.values(await probeAll(deps));
  const found = sections.flatMap((p) => (p instanceof ScanpayError ? [] : p)).find((p) => p.likelyScanner);
  if (found) return found.spec;
  // A list that could not be read may hold the scanner: say why, not "none".
  const failed = sections.filter((p): p is ScanpayError => p instanceof ScanpayError);
  if (failed.length) throw failed[0]!;
  throw new ScanpayError('SCAN_DEVICE_NOT_FOUND', {
    message: 'no device looks like a scanner: run `scanpay scanners` and pass a SOURCE, e.g. scanpay scanners listen serial:/dev/ttyACM0',
  });
}

/** A virtual scanner on the command line types what stdin sends, one line per scan. */
function typeLinesInto(source: VirtualSource, stdin: Readable): Promise<void> {
  const lines = createInterface({ input: stdin });
  lines.on('line', (line) => source.sendRaw(Buffer.from(line, 'utf8')));
  return new Promise((resolve) => lines.once('close', () => resolve()));
}

export async function listen(spec: string | undefined, deps: ListenDeps): Promise<void> {
  const { out } = deps;
  const chosen = spec ?? (await defaultSource(deps));
  const source: ScannerSource = createSource(chosen, { clock: systemClock, stdin: deps.stdin });
  const manager = new ScannerManager({
    sources: [source],
    clock: systemClock,
    logger: createLogger({ name: 'scanpay-scanners', level: process.env.SCANPAY_LOG_LEVEL ?? 'silent' }),
  });
  const time = () => new Date().toISOString().slice(11, 23);
  let ended!: () => void;
  const inputEnded = new Promise<void>((resolve) => (ended = resolve));
  const aborted = new Promise<void>((resolve) => {
    if (deps.signal.aborted) resolve();
    deps.signal.addEventListener('abort', () => resolve(), { once: true });
  });

  manager.on('scan', (e) => {
    out(`${time()}  ${maskCode(e.text)}  ${e.symbology ?? 'symbology not reported'}  ${describeCode(e.text)}`);
    if (deps.feedback) void manager.feedback(e.source, classifyCode(e.text).kind === 'payment' ? 'good' : 'bad');
  });
  manager.on('rejected', (e) => out(`${time()}  rejected  ${e.error.code}: ${e.error.message}`));
  manager.on('status', (e) => {
    const retry = e.retryAt ? ` (retrying in ${Math.max(0, e.retryAt - e.at)} ms)` : '';
    out(`${time()}  ${e.status}${e.error ? `  ${e.error.code}: ${e.error.message}` : ''}${e.ended ? '  (input ended)' : retry}`);
    if (e.ended) ended();
  });

  out(`listening on ${chosen}; press Ctrl-C to stop${source instanceof VirtualSource ? ' (virtual scanner: type a code and press Enter)' : ''}`);
  await manager.start();
  if (source instanceof VirtualSource) void typeLinesInto(source, deps.stdin).then(ended);
  await Promise.race([inputEnded, aborted]);
  await manager.stop();
}

/** An AbortSignal for Ctrl-C/SIGTERM, and the way to stop listening for them. */
function interrupts(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

export function registerScanners(program: Command): void {
  const out: Out = (line) => void process.stdout.write(`${line}\n`);
  const base = { listSerial: listSerialPorts, listHid: listHidDevices, out };
  const scanners = program
    .command('scanners')
    .description('list serial ports, USB HID devices and keyboards: what each probably is, its SOURCE spec and udev rule, and whether this user can open it')
    .action(() => listScanners(base));

  scanners
    .command('listen [SOURCE]')
    .description('open one scanner SOURCE (see docs/scanners.md) and print each scan until Ctrl-C; without SOURCE, the first device that looks like a scanner')
    .option('--feedback', 'beep good for payment codes and bad for anything else, where the scanner supports it', false)
    .action(async (spec: string | undefined, opts: { feedback: boolean }) => {
      const { signal, dispose } = interrupts();
      try {
        await listen(spec, { ...base, stdin: process.stdin, signal, feedback: opts.feedback });
      } finally {
        dispose();
      }
    });
  registerScannersSet(scanners);
}
