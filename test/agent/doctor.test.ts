import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { realDoctorDeps } from '../../agent/cli/doctor.ts';
import { systemClock, type Clock } from '../../agent/clock.ts';
import { runDoctor, type Check, type DoctorDeps } from '../../agent/doctor.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { provision } from '../../agent/provision.ts';
import { startBackend, type RunningBackend } from '../../simulator/backend/start-backend.ts';

let backend: RunningBackend;
let home: string;

/** The real dependencies, except what this machine happens to have plugged in and a running agent. */
function deps(over: Partial<DoctorDeps> = {}): DoctorDeps {
  return { ...realDoctorDeps(home), deviceNodes: () => [], agentScanners: async () => undefined, missingSystemPieces: async () => [], ...over };
}

const byName = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.name, c]));
const skewed = (ms: number): Clock => ({ ...systemClock, now: () => Date.now() + ms });

function setScanners(scanners: string[]): void {
  const path = join(home, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8'));
  config.lanes = [{ id: '1', scanners }];
  writeFileSync(path, JSON.stringify(config));
}

beforeEach(async () => {
  backend = await startBackend();
  home = mkdtempSync(join(tmpdir(), 'scanpay-doctor-'));
  const { code } = backend.sim.device.issueActivationCode();
  await provision({ home, backendUrl: backend.url, activationCode: code, clock: systemClock, scanner: 'virtual:lane-1' });
  Journal.open(join(home, 'journal.db')).close();
});

afterEach(async () => {
  await backend.close();
  rmSync(home, { recursive: true, force: true });
});

describe('scanpay doctor over real HTTP', () => {
  it('passes on a healthy provisioned device; what cannot pass here warns with a fix', async () => {
    const checks = await runDoctor(deps());
    expect(checks.map((c) => c.name)).toEqual([
      'configuration', 'terminal identity', 'database integrity', 'journal identity', 'free disk', 'backend reachable', 'TLS', 'clock skew',
      'signature round trip', 'scanner present', 'last scan', 'queue', 'dead letters', 'journal space', 'device alarms', 'device permissions', 'native modules',
    ]);
    const notPassing = checks.filter((c) => c.status !== 'pass');
    // A plain-HTTP test backend, and no payment was ever scanned on this fresh device.
    expect(notPassing.map((c) => [c.name, c.status])).toEqual([['TLS', 'warn'], ['last scan', 'warn']]);
    for (const c of notPassing) expect(c.fix).toBeTruthy();
    expect(byName(checks)['backend reachable']!.detail).toMatch(/answered in \d+ ms/);
    expect(JSON.stringify(checks)).not.toContain(JSON.parse(readFileSync(join(home, 'terminal.json'), 'utf8')).key);
  });

  it('reports a stopped backend as a failure with a fix, and does not blame the clock or the key', async () => {
    await backend.stop();
    const c = byName(await runDoctor(deps()));
    expect(c['backend reachable']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/BACKEND_(NOT_SENT: the backend at http:\/\/127\.0\.0\.1:\d+ unreachable|UNKNOWN: no answer to heartbeat) \(E[A-Z]+\)/), fix: expect.stringContaining(backend.url) });
    expect(c['clock skew']!.status).toBe('warn');
    expect(c['signature round trip']!.status).toBe('warn');
  });

  it('reports a clock a minute ahead as a warning, with the skew', async () => {
    const c = byName(await runDoctor(deps({ clock: skewed(60_000) })));
    expect(c['clock skew']).toMatchObject({ status: 'warn', detail: expect.stringMatching(/ahead of the backend by (59|60|61)\.\d s/), fix: expect.stringContaining('NTP') });
    expect(c['signature round trip']!.status).toBe('pass');
  });

  it('reports a clock ten minutes behind as a failure: the backend refuses its signatures', async () => {
    const c = byName(await runDoctor(deps({ clock: skewed(-600_000) })));
    expect(c['clock skew']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/behind the backend by (599|600|601)\.\d s: the backend refuses/) });
    expect(c['signature round trip']).toMatchObject({ status: 'fail', fix: expect.stringContaining('clock') });
  });

  it('reports a configured scanner that is missing or not a device', async () => {
    const dir = join(home, 'not-a-tty');
    mkdirSync(dir);
    setScanners([`serial:${dir}`, 'serial:/dev/ttyACM-scanpay-test?terminator=cr']);
    const c = byName(await runDoctor(deps()));
    expect(c['device permissions']).toMatchObject({ status: 'fail', detail: expect.stringContaining(`${dir} is not a device node`), fix: expect.stringContaining('99-scanpay-scanners.rules') });
    expect(c['device permissions']!.detail).toContain('/dev/ttyACM-scanpay-test does not exist');
    expect(c['scanner present']).toMatchObject({ status: 'fail', detail: expect.stringContaining('/dev/ttyACM-scanpay-test') });
  });

  it('says what to install when a native module a scanner needs does not load', async () => {
    setScanners(['hid:0c2e:0b61?mode=pos']);
    const c = byName(
      await runDoctor(
        deps({
          openSource: async () => {},
          loadNative: (name) => {
            if (name === 'node-hid') throw new Error('libusb-1.0.so.0: cannot open shared object file: No such file or directory');
          },
        }),
      ),
    );
    expect(c['native modules']).toMatchObject({ status: 'fail', detail: 'missing node-hid, needed by the configured scanners', fix: expect.stringContaining('apt-get install libusb-1.0-0') });
  });

  it('agrees with `scanpay scanners`: a missing system piece fails when a configured scanner needs it, warns otherwise, never passes', async () => {
    const missing = async () => [
      { piece: 'udevadm' as const, fix: 'listing serial ports needs udevadm: apt-get install udev' },
      { piece: 'libusb' as const, fix: 'node-hid needs the libusb library: apt-get install libusb-1.0-0' },
    ];
    const unneeded = byName(await runDoctor(deps({ missingSystemPieces: missing })));
    expect(unneeded['native modules']).toMatchObject({ status: 'warn', detail: expect.stringContaining('missing udevadm, libusb'), fix: expect.stringContaining('apt-get install udev') });

    setScanners(['hid:0c2e:0b61?mode=pos']);
    const needed = byName(await runDoctor(deps({ openSource: async () => {}, missingSystemPieces: missing })));
    expect(needed['native modules']).toMatchObject({ status: 'fail', detail: 'missing libusb, needed by the configured scanners; also missing udevadm', fix: expect.stringContaining('apt-get install libusb-1.0-0') });

    setScanners(['serial:usb=05e0:1200']);
    const usbSerial = byName(await runDoctor(deps({ openSource: async () => {}, missingSystemPieces: missing })));
    expect(usbSerial['native modules']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^missing udevadm, needed/) });
  });

  it('names a lane that has no scanner', async () => {
    const path = join(home, 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8'));
    config.lanes = [{ id: '1', scanners: ['virtual:lane-1'] }, { id: '2', scanners: [] }];
    writeFileSync(path, JSON.stringify(config));
    const c = byName(await runDoctor(deps()));
    expect(c['scanner present']).toMatchObject({ status: 'warn', detail: expect.stringContaining('lane 2 has no scanner'), fix: expect.stringContaining('scanpay scanners set 2 SOURCE') });
  });

  it('checks the certificate of an https backend', async () => {
    const path = join(home, 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8'));
    config.backend.url = 'https://acquirer.example:8443';
    writeFileSync(path, JSON.stringify(config));
    const validTo = Date.now() + 3 * 24 * 3600_000;
    const c = byName(await runDoctor(deps({ tlsCertificate: async () => ({ validTo, authorized: true }) })));
    expect(c['TLS']).toMatchObject({ status: 'warn', detail: expect.stringContaining('expires on'), fix: expect.stringContaining('renewed') });
  });

  it('fails when the journal is not the one this device recorded its payments in (issue 12)', async () => {
    const { checkJournal } = await import('../../agent/journal-guard.ts');
    const first = Journal.open(join(home, 'journal.db'));
    checkJournal(home, first, systemClock);
    first.close();
    expect(byName(await runDoctor(deps()))['journal identity']!.status).toBe('pass');
    for (const f of ['journal.db', 'journal.db-wal', 'journal.db-shm']) rmSync(join(home, f), { force: true });
    Journal.open(join(home, 'journal.db')).close();
    const c = byName(await runDoctor(deps()))['journal identity']!;
    expect(c.status).toBe('fail');
    expect(c.detail).toMatch(/not the journal this device recorded/);
    expect(c.fix).toMatch(/scanpay recover/);
  });

  it('fails on dead letters and names the first', async () => {
    const journal = Journal.open(join(home, 'journal.db'));
    const item = journal.enqueue({ kind: 'refund', orderNo: 'T1ORDER0001', dedupeKey: 'refund:T1ORDER0001', payload: {}, at: Date.now() });
    journal.outboxDead(item.id, Date.now(), 'refused by the backend');
    journal.close();
    const c = byName(await runDoctor(deps()));
    expect(c['dead letters']).toMatchObject({ status: 'fail', detail: expect.stringContaining(`#${item.id} refund: refused by the backend`), fix: expect.stringContaining('scanpay queue retry --all') });
  });

  it('device alarms (issue 12): an overdue reversal and a forgotten order from the journal; a running agent\'s alarms as it says them', async () => {
    const journal = Journal.open(join(home, 'journal.db'));
    const at = Date.now();
    const base = { amount: 100, currency: 'CNY', description: '', wallet: 'wechat' as const, codeMasked: '1345**', traceId: 't', createdAt: at, codeExpiresAt: at + 60_000, queryDeadlineAt: at + 45_000 };
    journal.createPayment({ ...base, orderNo: 'T1ORDER0001', code: '134567890123456701' });
    journal.createPayment({ ...base, orderNo: 'T1ORDER0002', code: '134567890123456702' });
    journal.transition('T1ORDER0002', 'querying', at, 'contradiction', { acknowledged: 1, contradiction_at: at });
    const item = journal.enqueue({ kind: 'reverse', orderNo: 'T1ORDER0001', dedupeKey: 'reverse:T1ORDER0001', payload: {}, at });
    journal.outboxOverdue(item.id, at, 8 * 24 * 3600_000);
    journal.close();
    const c = byName(await runDoctor(deps()));
    expect(c['device alarms']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/1 reversal.*PAY_FOLLOW_UP_OVERDUE.*1 payment.*BACKEND_ORDER_FORGOTTEN/) });
    const running = byName(await runDoctor(deps({ agentAlarms: async () => ["The terminal's storage is full: payments cannot be saved."] })));
    expect(running['device alarms']).toMatchObject({ status: 'fail', detail: expect.stringContaining('storage is full') });
    expect(byName(await runDoctor(deps({ agentAlarms: async () => [] })))['device alarms']!.status).toBe('pass');
  });

  it('journal space (issue 12): a journal at its size cap fails with a fix, nothing lost', async () => {
    const path = join(home, 'config.json');
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), journalMaxBytes: 262_144 }));
    expect(byName(await runDoctor(deps()))['journal space']!.status).toBe('pass');
    const journal = Journal.open(join(home, 'journal.db'), { maxSizeBytes: 262_144 });
    const at = Date.now();
    try {
      for (let i = 0; i < 10_000; i++) {
        journal.createPayment({ orderNo: `T1FULL${i}`, code: `1345678901${String(i).padStart(8, '0')}`, amount: 1, currency: 'CNY', description: 'x'.repeat(200), wallet: 'wechat', codeMasked: 'm', traceId: 't', createdAt: at, codeExpiresAt: at, queryDeadlineAt: at });
      }
    } catch (e) {
      expect(e).toMatchObject({ code: 'JOURNAL_WRITE_FAILED' });
    }
    expect(journal.writeFault?.detail).toMatchObject({ sqliteCode: 'SQLITE_FULL' });
    journal.close();
    expect(byName(await runDoctor(deps()))['journal space']).toMatchObject({ status: 'fail', detail: expect.stringContaining('cannot be saved'), fix: expect.stringContaining('journalMaxBytes') });
  });
});
