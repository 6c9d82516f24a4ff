/**
 * Faults of the device as one payment meets them (issue 12), on the real engine, a real
 * SQLite journal and the simulated acquirer over real HTTP, on a manual clock: a backend
 * that forgot an order it had acknowledged, a decline whose answer was lost, a journal
 * that cannot be written, and a restart with a payment under way on a lane.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../agent/log.ts';
import { createMetrics } from '../../agent/metrics.ts';
import { alarmCounts, deviceAlarmWords } from '../../agent/payment/payment-alarms.ts';
import { PosService } from '../../agent/pos-service.ts';
import { fromEngine } from '../../agent/pos-payment.ts';
import { createRig, type Rig } from '../support/payment-rig.ts';

let rig: Rig;
afterEach(async () => {
  await rig?.close();
});

const sim = () => rig.backend.sim;
const net = (orderNo: string) => sim().ledger().filter((e) => e.orderNo === orderNo).reduce((n, e) => n + (e.kind === 'charge' ? e.amount : -e.amount), 0);
const alarmCodes = (orderNo: string) => rig.engine.get(orderNo).alarms.map((a) => a.code);
/** The metric the agent serves (agent/daemon.ts binds the same source). */
async function alarmMetric(kind: string): Promise<number> {
  const metrics = createMetrics({ outbox: () => ({ pending: 0, dead: 0 }), scanners: () => [], now: Date.now, alarms: () => ({ ...alarmCounts(rig.journal) }) });
  const line = (await metrics.text()).split('\n').find((l) => l.startsWith(`scanpay_payment_alarms{kind="${kind}"}`));
  return Number(line?.split(' ')[1]);
}

describe('the acquirer forgets an order it had acknowledged', () => {
  it.each([
    ['leaves a tombstone (protocol v1)', true],
    ['keeps no tombstone (WeChat-like)', false],
  ])('acquirer that %s: alarm, the payment stays unknown, and it ends by reverse-and-confirm, never by assumption', async (_, tombstone) => {
    rig = await createRig({ backend: { rules: { tombstone } } });
    const code = sim().issueCode('wechat', { kind: 'password', seconds: 30 });
    const p = rig.engine.pay({ amount: 900, paymentCode: code });
    await rig.drive(() => rig.engine.get(p.orderNo).customerPaying);
    expect(rig.journal.getPayment(p.orderNo)!.acknowledged).toBe(1);
    // The acquirer restarts without its ledger.
    sim().reset();
    await rig.drive(() => alarmCodes(p.orderNo).includes('BACKEND_ORDER_FORGOTTEN'));
    const during = rig.engine.get(p.orderNo);
    expect(during.outcome).toBeNull();
    expect(fromEngine(during).status).toMatch(/no longer knows this payment/);
    expect(await alarmMetric('order_forgotten')).toBe(1);
    expect(deviceAlarmWords(rig.journal).join(' ')).toMatch(/acquirer lost track of 1 payment/);
    expect(rig.seen.some((v) => v.orderNo === p.orderNo && v.alarms.some((a) => a.code === 'BACKEND_ORDER_FORGOTTEN'))).toBe(true);
    await rig.drive(() => rig.engine.get(p.orderNo).outcome !== null);
    const row = rig.journal.getPayment(p.orderNo)!;
    expect(row.outcome).toBe('reversed');
    expect(rig.engine.get(p.orderNo).alarms).toEqual([]);
    expect(await alarmMetric('order_forgotten')).toBe(0);
    const reverses = sim().calls().filter((c) => c.op === 'reverse');
    expect(reverses.length).toBeGreaterThan(0);
    // Without a tombstone a "not found" before the code expired proves nothing: the closing reverse came after it.
    if (!tombstone) expect(reverses.at(-1)!.at).toBeGreaterThanOrEqual(row.code_expires_at);
    expect(rig.journal.events(p.orderNo).some((e) => e.cause.startsWith('contradiction'))).toBe(true);
    expect(net(p.orderNo)).toBe(0);
  });
});

describe('a decline whose answer was lost', () => {
  it('ends declined with the reason the query learned, shown to the POS', async () => {
    rig = await createRig();
    const code = sim().issueCode('alipay', { kind: 'insufficient' });
    sim().addFault({ op: 'pay', kind: 'lost-response', count: 1 });
    const p = await rig.payAndFinish(code, 700);
    expect(p).toMatchObject({ outcome: 'declined', reasonCode: 'NOT_ENOUGH', reasonMessage: expect.stringMatching(/.+/) });
    expect(fromEngine(p)).toMatchObject({ result: 'declined', status: `declined: ${p.reasonMessage}` });
    expect(net(p.orderNo)).toBe(0);
  });
});

/**
 * Another writer fills the journal to the agent's cap, down to the last byte of its pages
 * (rows of shrinking size in the table every payment step appends to): the disk, as the
 * agent sees it, is full. Deleting the FILLER rows makes room again.
 */
function fillJournal(cap: number): Database.Database {
  const filler = new Database(join(rig.dir, 'journal.db'));
  filler.pragma('foreign_keys = OFF');
  filler.pragma(`max_page_count = ${cap / (filler.pragma('page_size', { simple: true }) as number)}`);
  const fill = filler.prepare("INSERT INTO payment_events (order_no, at, state, cause, detail) VALUES ('FILLER', 0, 'filler', 'filler', ?)");
  for (const size of [3000, 300, 30, 1]) {
    try {
      for (;;) fill.run('x'.repeat(size));
    } catch (e) {
      expect(e).toMatchObject({ code: 'SQLITE_FULL' });
    }
  }
  return filler;
}

describe('a journal that cannot be written', () => {
  it('a full journal is shown on the payment in cashier words; nothing is sent or lost, and it ends paid once there is room', async () => {
    const cap = 512 * 1024;
    rig = await createRig({ journalMaxBytes: cap });
    const code = sim().issueCode('wechat', { kind: 'password', seconds: 20 });
    const p = rig.engine.pay({ amount: 1500, paymentCode: code });
    await rig.drive(() => rig.engine.get(p.orderNo).customerPaying);
    const filler = fillJournal(cap);
    const callsBefore = sim().calls().length;
    await rig.drive(() => alarmCodes(p.orderNo).includes('JOURNAL_WRITE_FAILED'));
    const stuck = rig.engine.get(p.orderNo);
    expect(stuck.outcome).toBeNull();
    expect(fromEngine(stuck).status).toMatch(/^The terminal's storage is full/);
    expect(await alarmMetric('journal_write_failed')).toBe(1);
    expect(deviceAlarmWords(rig.journal)).toEqual([expect.stringMatching(/^The terminal's storage is full/)]);
    // The customer confirms meanwhile; the agent, unable to write, sends nothing and claims nothing.
    await rig.drive(() => rig.seen.some((v) => v.orderNo === p.orderNo && v.alarms.length > 0) && sim().order(p.orderNo)?.state === 'SUCCESS');
    expect(sim().calls().length).toBe(callsBefore);
    expect(rig.engine.get(p.orderNo).outcome).toBeNull();
    filler.exec("DELETE FROM payment_events WHERE order_no = 'FILLER'");
    filler.close();
    await rig.drive(() => rig.engine.get(p.orderNo).outcome !== null);
    expect(rig.engine.get(p.orderNo)).toMatchObject({ outcome: 'paid', alarms: [] });
    expect(await alarmMetric('journal_write_failed')).toBe(0);
    expect(net(p.orderNo)).toBe(1500);
  });
  it('a journal that cannot even be read when the stopped payment is retried: the agent keeps retrying, it does not end', async () => {
    const cap = 512 * 1024;
    rig = await createRig({ journalMaxBytes: cap });
    const code = sim().issueCode('wechat', { kind: 'password', seconds: 20 });
    const p = rig.engine.pay({ amount: 700, paymentCode: code });
    await rig.drive(() => rig.engine.get(p.orderNo).customerPaying);
    const getPayment = rig.journal.getPayment.bind(rig.journal);
    let readsFail = false;
    let refusedReads = 0;
    // An I/O error on reads too, from the moment the disk is full: the retry timer meets it.
    const spy = vi.spyOn(rig.journal, 'getPayment').mockImplementation((orderNo: string) => {
      if (!readsFail) return getPayment(orderNo);
      refusedReads++;
      throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    });
    const filler = fillJournal(cap);
    readsFail = true;
    // Without the retry's own guard, the first refused read is thrown from a timer and ends the process (here: this drive).
    await rig.drive(() => refusedReads >= 8);
    readsFail = false;
    filler.exec("DELETE FROM payment_events WHERE order_no = 'FILLER'");
    filler.close();
    await rig.drive(() => getPayment(p.orderNo)?.outcome != null);
    spy.mockRestore();
    expect(rig.engine.get(p.orderNo).outcome).toBe('paid');
    expect(net(p.orderNo)).toBe(700);
  });
});

describe('a restart with a payment under way on a lane', () => {
  it('gives the lane its payment back: shown active, a second payment on it refused, other lanes free', async () => {
    rig = await createRig();
    const service = () =>
      new PosService({ engine: rig.engine, laneIds: ['1', '2'], orderNoOf: (id) => rig.journal.getByPosOrderId(id)?.order_no, currency: 'CNY', scanTimeoutMs: 60_000, clock: rig.clock, logger: silentLogger });
    const first = service().create({ id: 'POS-A', lane: '2', amount: 1200, paymentCode: sim().issueCode('wechat', { kind: 'password', seconds: 30 }) });
    await rig.drive(() => rig.engine.get(first.payment.orderNo!).customerPaying);
    await rig.restartAgent();
    const again = service();
    expect(again.lane('2')!.activeId()).toBe('POS-A');
    expect(again.get('POS-A')).toMatchObject({ lane: '2', result: null });
    expect(() => again.create({ id: 'POS-B', lane: '2', amount: 100, paymentCode: sim().issueCode('wechat', { kind: 'instant' }) })).toThrow(expect.objectContaining({ code: 'API_PAYMENT_ACTIVE' }));
    expect(again.create({ id: 'POS-C', lane: '1', amount: 100, paymentCode: sim().issueCode('wechat', { kind: 'instant' }) }).created).toBe(true);
    await rig.drive(() => rig.engine.get(first.payment.orderNo!).outcome !== null);
    expect(again.lane('2')!.activeId()).toBeUndefined();
  });
});
