import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settle } from '../../agent/settlement.ts';
import { createDeviceRig, type DeviceRig } from '../support/device-rig.ts';

let rig: DeviceRig;
beforeEach(async () => {
  rig = await createDeviceRig();
});
afterEach(async () => {
  await rig.close();
});

async function dayOfTrade(r: DeviceRig): Promise<string[]> {
  const orders = [
    r.engine.pay({ amount: 1000, paymentCode: r.backend.sim.issueCode('wechat', { kind: 'instant' }) }),
    r.engine.pay({ amount: 2500, paymentCode: r.backend.sim.issueCode('alipay', { kind: 'instant' }) }),
    r.engine.pay({ amount: 700, paymentCode: r.backend.sim.issueCode('wechat', { kind: 'insufficient' }) }),
  ].map((p) => p.orderNo);
  await r.drive(() => orders.every((o) => r.engine.get(o).outcome !== null));
  await r.engine.refund(orders[1]!, { refundId: 'R1', amount: 500 });
  return orders;
}

describe('end-of-day settlement', () => {
  it('matches when both sides agree, and writes an empty report', async () => {
    await dayOfTrade(rig);
    const r = await settle({ journal: rig.journal, client: rig.client, clock: rig.clock, home: rig.home });
    expect(r.result).toBe('matched');
    expect(r.totals).toEqual({
      wechat: { payments: { count: 1, amount: 1000 }, reversals: { count: 0, amount: 0 }, refunds: { count: 0, amount: 0 } },
      alipay: { payments: { count: 1, amount: 2500 }, reversals: { count: 0, amount: 0 }, refunds: { count: 1, amount: 500 } },
    });
    expect(readFileSync(r.report.csv, 'utf8').trim().split('\n')).toHaveLength(1);
    // Settling again opens an empty batch: nothing counted twice.
    const again = await settle({ journal: rig.journal, client: rig.client, clock: rig.clock, home: rig.home });
    expect(again).toMatchObject({ result: 'matched', totals: {} });
  });

  it('mismatch: uploads detail, gets the discrepancies, saves CSV and JSON naming each order', async () => {
    const [paidWechat] = await dayOfTrade(rig);
    const terminalId = rig.sync.credentials().terminalId;
    rig.backend.sim.device.changeSettlement(terminalId, { kind: 'drop', orderNo: paidWechat! });
    rig.backend.sim.device.changeSettlement(terminalId, { kind: 'extra', orderNo: 'GHOST000001', wallet: 'alipay', amount: 999 });
    const r = await settle({ journal: rig.journal, client: rig.client, clock: rig.clock, home: rig.home });
    expect(r.result).toBe('mismatch');
    expect(r.discrepancies).toEqual([
      { orderNo: paidWechat, wallet: 'wechat', kind: 'missing-at-backend', terminal: { outcome: 'paid', amount: 1000, refunded: 0 }, backend: null },
      { orderNo: 'GHOST000001', wallet: 'alipay', kind: 'missing-at-terminal', terminal: null, backend: { outcome: 'paid', amount: 999, refunded: 0 } },
    ]);
    const csv = readFileSync(r.report.csv, 'utf8').trim().split('\n');
    expect(csv).toEqual([
      'orderNo,wallet,kind,terminalOutcome,terminalAmount,terminalRefunded,backendOutcome,backendAmount,backendRefunded',
      `${paidWechat},wechat,missing-at-backend,paid,1000,0,,,`,
      'GHOST000001,alipay,missing-at-terminal,,,,paid,999,0',
    ]);
    const json = JSON.parse(readFileSync(r.report.json, 'utf8'));
    expect(json).toMatchObject({ batchNo: r.batchNo, result: 'mismatch', discrepancies: r.discrepancies });
    expect(r.report.json).toMatch(new RegExp(`reports/settlement-${r.batchNo}\\.json$`));
    expect(rig.journal.settlements()[0]).toMatchObject({ batch_no: r.batchNo, status: 'mismatch' });
  });

  it('refuses to close a batch while a payment is under way', async () => {
    rig.engine.pay({ amount: 100, paymentCode: rig.backend.sim.issueCode('wechat', { kind: 'password', seconds: 30 }) });
    await expect(settle({ journal: rig.journal, client: rig.client, clock: rig.clock, home: rig.home })).rejects.toMatchObject({ code: 'PAY_SETTLEMENT_BLOCKED' });
    await rig.drive(() => rig.journal.unfinished().length === 0);
  });
});
