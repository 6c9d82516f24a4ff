/**
 * The serial driver against real ttys: a socat pty pair stands in for the scanner's cable.
 * Waits are on events (a scan, a status), never on wall-clock assertions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../agent/clock.ts';
import { silentLogger } from '../../agent/log.ts';
import { ScannerManager, type ManagerStatus } from '../../agent/scanner-manager.ts';
import { createSource } from '../../drivers/create-source.ts';
import type { ScanEvent, ScannerSource } from '../../drivers/source.ts';
import { startPtyPair, type PtyPair } from './support/socat.ts';

const WECHAT = '134567890123456789';
const ALIPAY = '281234567890123456';

/** Collects events and lets a test await the n-th one. */
function collector<T>() {
  const items: T[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  return {
    items,
    push(item: T) {
      items.push(item);
      for (const w of waiters.filter((w) => items.length >= w.n)) w.resolve();
    },
    async count(n: number): Promise<T[]> {
      if (items.length < n) await new Promise<void>((resolve) => waiters.push({ n, resolve }));
      return items;
    },
  };
}

async function until<T>(c: { items: T[]; count(n: number): Promise<T[]> }, pred: (t: T) => boolean): Promise<T> {
  for (let n = 1; ; n++) {
    const items = await c.count(n);
    const hit = items.slice(n - 1).find(pred);
    if (hit) return hit;
  }
}

// Gives socat time to relay a piece before the next one, so pieces land in separate
// reads; the driver must reassemble them, and nothing asserts how long anything took.
const between = () => new Promise((r) => setTimeout(r, 15));

describe('serial source on a socat pty pair', () => {
  let dir: string;
  let pty: PtyPair;
  let sources: ScannerSource[];
  let manager: ScannerManager | undefined;

  beforeEach(async () => {
    sources = [];
    manager = undefined;
    dir = mkdtempSync(join(tmpdir(), 'scanpay-pty-'));
    pty = await startPtyPair(dir);
  });

  afterEach(async () => {
    await manager?.stop();
    for (const s of sources) await s.close();
    await pty?.stop(); // undefined when socat could not start
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(query: string) {
    const source = createSource(`serial:${pty.scanner}?${query}`, { clock: systemClock });
    sources.push(source);
    const scans = collector<ScanEvent>();
    source.on('scan', (e) => scans.push(e));
    await source.open();
    return { source, scans };
  }

  it.each([
    ['cr', '\r'],
    ['lf', '\n'],
    ['crlf', '\r\n'],
  ])('reassembles a code written in pieces, terminator %s', async (terminator, end) => {
    const { scans } = await open(`terminator=${terminator}`);
    pty.write(WECHAT.slice(0, 5));
    await between();
    pty.write(WECHAT.slice(5, 11));
    await between();
    pty.write(`${WECHAT.slice(11)}${end}${ALIPAY}`);
    await between();
    pty.write(end);
    const got = await scans.count(2);
    expect(got.map((s) => s.text)).toEqual([WECHAT, ALIPAY]);
  });

  it('frames by silence with terminator none', async () => {
    const { scans } = await open('terminator=none&idle=40');
    pty.write(WECHAT.slice(0, 9));
    pty.write(WECHAT.slice(9));
    expect((await scans.count(1)).map((s) => s.text)).toEqual([WECHAT]);
    pty.write(ALIPAY);
    expect((await scans.count(2)).map((s) => s.text)).toEqual([WECHAT, ALIPAY]);
  });

  it('does not split codes sent in two pieces while the agent is busy', async () => {
    const { scans } = await open('terminator=none&idle=50');
    const codes = Array.from({ length: 8 }, (_, i) => `13456789012345${String(i).padStart(4, '0')}`);
    for (const [i, code] of codes.entries()) {
      pty.write(code.slice(0, 9));
      await between();
      // The rest arrives 15 ms later while the event loop is blocked for 100 ms (the agent
      // signing a request, a frame being decoded): the overdue idle timer runs first.
      pty.write(code.slice(9));
      const until = Date.now() + 100;
      while (Date.now() < until);
      // The next customer comes after this scan (or its first fragment) is out.
      await scans.count(i + 1);
    }
    await new Promise((r) => setTimeout(r, 200)); // room for a late fragment to show
    expect(scans.items.map((s) => s.text)).toEqual(codes);
  });

  it('keeps a CR inside a 2D code when the terminator must be followed by silence', async () => {
    const { scans } = await open('terminator=cr&idle=40');
    const twoD = 'WIFI:S:lane1;\rT:WPA;P:secret;;';
    pty.write(`${twoD.slice(0, 10)}`);
    pty.write(`${twoD.slice(10)}\r`);
    expect((await scans.count(1)).map((s) => s.text)).toEqual([twoD]);
  });

  it('strips prefix, suffix and AIM identifier', async () => {
    const { scans } = await open('terminator=cr&prefix=%02&suffix=%03&aim=1');
    pty.write(`\u0002]Q1${WECHAT}\u0003\r\u0002]E04006381333931\u0003\r`);
    const got = await scans.count(2);
    expect(got.map((s) => [s.text, s.symbology])).toEqual([
      [WECHAT, 'QR Code'],
      ['4006381333931', 'EAN-13'],
    ]);
    expect(got[0]?.raw.toString('latin1')).toBe(`\u0002]Q1${WECHAT}\u0003`);
  });

  it('writes the configured feedback bytes to the scanner', async () => {
    const { source } = await open('terminator=cr&good=1b07&bad=1b08');
    expect(await source.feedback('bad')).toBe(true);
    expect(pty.read(2).toString('hex')).toBe('1b08');
    expect(await source.feedback('good')).toBe(true);
    expect(pty.read(2).toString('hex')).toBe('1b07');
  });

  describe('through the scanner manager', () => {
    async function managed(query: string) {
      const source = createSource(`serial:${pty.scanner}?${query}`, { clock: systemClock });
      manager = new ScannerManager({
        sources: [source],
        clock: systemClock,
        logger: silentLogger,
        options: { dedupeWindowMs: 60_000, maxLength: 64, reconnect: { initialMs: 20, maxMs: 100, factor: 2 } },
      });
      const scans = collector<ScanEvent>();
      const statuses = collector<ManagerStatus>();
      const rejected = collector<string>();
      manager.on('scan', (e) => scans.push(e));
      manager.on('status', (e) => statuses.push(e));
      manager.on('rejected', (e) => rejected.push(e.error.code));
      await manager.start();
      return { scans, statuses, rejected };
    }

    it('drops a burst of repeats and skips garbage without stopping', async () => {
      const { scans, rejected } = await managed('terminator=cr');
      pty.write(`${WECHAT}\r`.repeat(25));
      pty.write(Buffer.from([0x00, 0xff, 0x1b, 0x5b, 0x41, 0x0d])); // line noise, then a CR
      pty.write(`${'7'.repeat(80)}\r`);
      pty.write(`${ALIPAY}\r`);
      const got = await until(scans, (s) => s.text === ALIPAY);
      expect(got.text).toBe(ALIPAY);
      expect(scans.items.map((s) => s.text)).toEqual([WECHAT, ALIPAY]);
      expect(await rejected.count(2)).toEqual(['SCAN_FRAME_INVALID', 'SCAN_FRAME_TOO_LONG']);
    });

    it('reconnects when the peer goes away and comes back', async () => {
      const { scans, statuses } = await managed('terminator=cr');
      pty.write(`${WECHAT}\r`);
      await scans.count(1);

      await pty.stop();
      const lost = await until(statuses, (s) => s.status === 'disconnected');
      expect(lost.error?.code).toBe('SCAN_DEVICE_DISCONNECTED');
      // While the pty is gone, reopening fails and the manager keeps trying.
      const failed = await until(statuses, (s) => s.status === 'error');
      expect(failed.error?.code).toBe('SCAN_DEVICE_NOT_FOUND');
      expect(failed.retryAt).toBeGreaterThan(failed.at);

      pty = await startPtyPair(dir);
      await until(statuses, (s) => s.status === 'connected' && s.at > failed.at);
      pty.write(`${ALIPAY}\r`);
      const back = await until(scans, (s) => s.text === ALIPAY);
      expect(back.source).toBe(`serial:${pty.scanner}?terminator=cr`);
    });
  });
});
