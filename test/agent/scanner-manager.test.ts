import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { createLogger } from '../../agent/log.ts';
import { ScannerManager, type ManagerStatus, type ScanRejected } from '../../agent/scanner-manager.ts';
import type { ScanEvent } from '../../drivers/source.ts';
import { VirtualSource } from '../../drivers/virtual.ts';

const WECHAT = '134567890123456789';

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

describe('ScannerManager', () => {
  let clock: ManualClock;
  let scanner: VirtualSource;
  let manager: ScannerManager;
  let scans: ScanEvent[];
  let statuses: ManagerStatus[];
  let rejected: ScanRejected[];
  let log: ReturnType<typeof capturingLogger>;

  beforeEach(async () => {
    clock = new ManualClock();
    scanner = new VirtualSource('virtual:lane1', { clock });
    log = capturingLogger();
    manager = new ScannerManager({
      sources: [scanner],
      clock,
      logger: log.logger,
      options: { dedupeWindowMs: 1000, maxLength: 64, reconnect: { initialMs: 100, maxMs: 800, factor: 2 } },
    });
    scans = [];
    statuses = [];
    rejected = [];
    manager.on('scan', (e) => scans.push(e));
    manager.on('status', (e) => statuses.push(e));
    manager.on('rejected', (e) => rejected.push(e));
    await manager.start();
  });

  afterEach(async () => {
    await manager.stop();
  });

  it('passes a clean scan on with its source and symbology', () => {
    scanner.scan(WECHAT, 'QR Code');
    expect(scans).toMatchObject([{ text: WECHAT, symbology: 'QR Code', source: 'virtual:lane1' }]);
    expect(manager.statuses()).toEqual([{ source: 'virtual:lane1', status: 'connected' }]);
  });

  it('drops repeats within the window, measured from the last sighting', () => {
    for (let i = 0; i < 20; i++) {
      scanner.scan(WECHAT);
      clock.advance(100); // continuous mode: ten reads a second, for two seconds
    }
    expect(scans).toHaveLength(1);
    clock.advance(1000);
    scanner.scan(WECHAT);
    expect(scans).toHaveLength(2);
  });

  it('does not let one code hide another', () => {
    scanner.scan(WECHAT);
    scanner.scan('4006381333931');
    scanner.scan(WECHAT);
    expect(scans.map((s) => s.text)).toEqual([WECHAT, '4006381333931']);
  });

  it('trims stray terminators left by a CR/CRLF mismatch', () => {
    scanner.sendRaw(Buffer.from(`\n${WECHAT}\r`));
    expect(scans.map((s) => s.text)).toEqual([WECHAT]);
  });

  it('rejects control characters with a masked warning and a SCAN_FRAME_INVALID event', () => {
    scanner.sendRaw(Buffer.from(`1345678\u0007901234567`));
    expect(scans).toEqual([]);
    expect(rejected.map((r) => r.error.code)).toEqual(['SCAN_FRAME_INVALID']);
    const warn = log.lines.find((l) => l.errorCode === 'SCAN_FRAME_INVALID');
    expect(warn).toMatchObject({ level: 40, source: 'virtual:lane1', scan: `13${'*'.repeat(11)}4567` });
    expect(String(warn?.msg)).toContain('0x07 at position 7');
    expect(JSON.stringify(log.lines)).not.toContain('1345678');
  });

  it('rejects frames over the maximum length, masked', () => {
    scanner.scan('9'.repeat(65));
    expect(scans).toEqual([]);
    expect(rejected.map((r) => r.error.code)).toEqual(['SCAN_FRAME_TOO_LONG']);
    expect(JSON.stringify(log.lines)).not.toContain('9'.repeat(10));
  });

  it('reconnects an unplugged source with growing backoff, reporting each step', async () => {
    scanner.unplug();
    expect(statuses.at(-1)).toMatchObject({ status: 'disconnected', retryAt: clock.now() + 100 });
    expect(manager.statuses()[0]?.status).toBe('disconnected');

    const opensBefore = scanner.opens;
    clock.advance(100);
    await Promise.resolve();
    expect(statuses.at(-1)).toMatchObject({ status: 'error', retryAt: clock.now() + 200 });
    expect(statuses.at(-1)?.error?.code).toBe('SCAN_DEVICE_NOT_FOUND');
    clock.advance(200);
    await Promise.resolve();
    expect(statuses.at(-1)).toMatchObject({ status: 'error', retryAt: clock.now() + 400 });
    clock.advance(400);
    await Promise.resolve();
    clock.advance(800);
    await Promise.resolve();
    // capped at maxMs
    expect(statuses.at(-1)).toMatchObject({ status: 'error', retryAt: clock.now() + 800 });
    expect(scanner.opens - opensBefore).toBe(4);

    scanner.plug();
    clock.advance(800);
    await Promise.resolve();
    expect(statuses.at(-1)?.status).toBe('connected');
    expect(manager.statuses()[0]?.status).toBe('connected');
    scanner.scan(WECHAT);
    expect(scans).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  it('stops retrying and closes sources on stop', async () => {
    scanner.unplug();
    await manager.stop();
    expect(clock.pending).toBe(0);
    scanner.plug();
    expect(scanner.isOpen).toBe(false);
  });

  it('relays feedback to a connected source only', async () => {
    expect(await manager.feedback('virtual:lane1', 'good')).toBe(true);
    scanner.unplug();
    expect(await manager.feedback('virtual:lane1', 'bad')).toBe(false);
    expect(scanner.feedbackGiven).toEqual(['good']);
  });
});
