/**
 * Whatever bytes arrive, on any driver, nothing throws and no scan leaving the manager
 * contains a control character.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { silentLogger } from '../../agent/log.ts';
import { ScannerManager } from '../../agent/scanner-manager.ts';
import { createSource } from '../../drivers/create-source.ts';
import { RecordedHidDevice } from '../../drivers/hid/recorded-device.ts';
import type { ScanEvent } from '../../drivers/source.ts';
import { VirtualSource } from '../../drivers/virtual.ts';
import { MemorySerial } from './support/memory-serial.ts';

// GS (0x1d) may pass: it is the field separator of GS1 codes. U+FFFD never may.
const CONTROL = /[\u0000-\u001c\u001e\u001f\u007f-\u009f\ufffd]/;

/** Bytes biased towards what matters: terminators, AIM brackets, digits, controls. */
const chunk = fc.uint8Array({ maxLength: 40 }).chain((noise) =>
  fc.array(fc.constantFrom(0x0d, 0x0a, 0x5d, 0x51, 0x31, 0x30, 0x39, 0x00, 0x1b, 0x7f, 0xc2, 0x85), { maxLength: 10 }).map((extra) => Buffer.from([...noise, ...extra])),
);
const steps = fc.array(fc.tuple(chunk, fc.nat({ max: 120 })), { maxLength: 25 });

async function run(build: (clock: ManualClock) => Promise<(bytes: Buffer) => void>, input: Array<[Buffer, number]>): Promise<void> {
  const clock = new ManualClock();
  const feed = await build(clock);
  for (const [bytes, pause] of input) {
    feed(bytes);
    clock.advance(pause);
  }
}

async function withManager(clock: ManualClock, spec: string, deps: Parameters<typeof createSource>[1]) {
  const source = createSource(spec, deps);
  const manager = new ScannerManager({ sources: [source], clock, logger: silentLogger, options: { maxLength: 128 } });
  const scans: ScanEvent[] = [];
  manager.on('scan', (e) => scans.push(e));
  await manager.start();
  return scans;
}

describe('random byte streams', () => {
  it.each(['cr', 'lf', 'crlf', 'none'])('serial driver with terminator %s', async (terminator) => {
    await fc.assert(
      fc.asyncProperty(steps, fc.boolean(), async (input, aim) => {
        let out: ScanEvent[] = [];
        await run(async (clock) => {
          const link = new MemorySerial();
          out = await withManager(clock, `serial:/dev/fake?terminator=${terminator}&idle=30&aim=${aim ? 1 : 0}&max=256`, { clock, openSerial: link.opener() });
          return (b) => link.send(b);
        }, input);
        for (const s of out) expect(s.text).not.toMatch(CONTROL);
      }),
      { numRuns: 150 },
    );
  });

  it.each(['pos', 'wedge'])('HID driver in %s mode', async (mode) => {
    const report = mode === 'pos' ? fc.uint8Array({ minLength: 64, maxLength: 64 }).map((r) => Buffer.from([0x02, r[1]! % 60, ...r.subarray(2)])) : fc.uint8Array({ minLength: 8, maxLength: 8 }).map((r) => Buffer.from(r));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(report, fc.nat({ max: 50 })), { maxLength: 60 }), fc.constantFrom('us', 'de'), async (input, layout) => {
        let out: ScanEvent[] = [];
        await run(async (clock) => {
          const device = new RecordedHidDevice();
          out = await withManager(clock, `hid:0c2e:0b61?mode=${mode}&layout=${layout}`, { clock, openHid: device.opener() });
          return (b) => device.play([b]);
        }, input);
        for (const s of out) expect(s.text).not.toMatch(CONTROL);
      }),
      { numRuns: 150 },
    );
  });

  it('manager fed arbitrary frames directly', async () => {
    await fc.assert(
      fc.asyncProperty(steps, async (input) => {
        let out: ScanEvent[] = [];
        await run(async (clock) => {
          const scanner = new VirtualSource('virtual:fuzz', { clock });
          const manager = new ScannerManager({ sources: [scanner], clock, logger: silentLogger });
          out = [];
          manager.on('scan', (e) => out.push(e));
          await manager.start();
          return (b) => scanner.sendRaw(b);
        }, input);
        for (const s of out) expect(s.text).not.toMatch(CONTROL);
      }),
      { numRuns: 300 },
    );
  });

  it('has teeth: the same streams do produce scans', async () => {
    // Guards against a property that passes only because nothing ever comes out.
    const clock = new ManualClock();
    const link = new MemorySerial();
    const out = await withManager(clock, 'serial:/dev/fake?terminator=cr', { clock, openSerial: link.opener() });
    link.send(Buffer.from('\u001b]Q1\r134567890123456789\r'));
    expect(out.map((s) => s.text)).toEqual(['134567890123456789']);
  });
});
