/**
 * The simulated backend keeps what grows with payments in SQLite (backend-store.ts): the
 * ledger's audit answered by queries, a customer's decision found by its due time rather
 * than by reading every order, and a file of the older layout (every record in one table)
 * carried over.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { maskCode } from '../../agent/payment-code.ts';
import { memoryStore, type BackendStore, type TableName } from '../../simulator/backend/backend-store.ts';
import { buildBackend } from '../../simulator/backend/build-backend.ts';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';
import { Ledger } from '../../simulator/backend/ledger.ts';
import { WalletModel } from '../../simulator/backend/wallet-model.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const charge = (orderNo: string, code: string) => ({ at: 1, kind: 'charge' as const, orderNo, amount: 100, currency: 'CNY', wallet: 'wechat' as const, code: maskCode(code) });

describe('ledger audit from disk', () => {
  it('names an order or a code charged twice, and tells codes whose masks collide apart', () => {
    const ledger = new Ledger(memoryStore().ledgerRows());
    // Same mask (first and last digits), different codes: two customers, no double charge.
    ledger.append(charge('A', '134567890123456111'), '134567890123456111');
    ledger.append(charge('B', '134000000000006111'), '134000000000006111');
    expect(maskCode('134567890123456111')).toBe(maskCode('134000000000006111'));
    expect(ledger.audit(2)).toEqual({ orders: 2, charged: 200, netCharged: 200, doubleCharges: [] });
    ledger.append({ ...charge('A', '134567890123456111'), kind: 'reversal' }, '134567890123456111');
    ledger.append(charge('C', '134567890123456111'), '134567890123456111');
    ledger.append(charge('C', '134567890123456111'), '134567890123456111');
    expect(ledger.audit(3)).toEqual({ orders: 3, charged: 400, netCharged: 300, doubleCharges: ['order:C', `code:${maskCode('134567890123456111')}`] });
    expect(ledger.totals('A')).toEqual({ charged: 100, refunded: 100, net: 0 });
    expect(ledger.entries().map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('wallet model on the store', () => {
  it('settles a customer decision by reading the orders due, not every order', () => {
    const store = memoryStore();
    const reads = new Map<string, number>();
    const counted: BackendStore = {
      ...store,
      table: <V>(name: TableName, keys?: (v: V) => { ref?: string; due?: number }) => {
        const t = store.table<V>(name, keys);
        return { ...t, get: (k: string) => (reads.set(name, (reads.get(name) ?? 0) + 1), t.get(k)) };
      },
    };
    const clock = new ManualClock();
    const model = new WalletModel({ clock, codeTtlMs: 60_000, passwordAbandonMs: 90_000, reverseWindowMs: 86_400_000, store: counted });
    const pay = (orderNo: string, code: string) => model.pay({ orderNo, paymentCode: code, amount: 100, currency: 'CNY', description: '' });
    for (let i = 0; i < 300; i++) expect(pay(`T-${i}`, model.issueCode('wechat', { kind: 'instant' }).code).result).toBe('SUCCESS');
    expect(pay('T-slow', model.issueCode('wechat', { kind: 'password', seconds: 5 }).code).result).toBe('USER_PAYING');
    clock.advance(5_000);
    reads.clear();
    expect(model.query('T-7').trade?.state).toBe('SUCCESS');
    // The order due (charged now) and the one asked for: nothing else was read.
    expect(reads.get('orders')).toBe(2);
    expect(model.order('T-slow')).toMatchObject({ state: 'SUCCESS', charged: 100 });
    expect(model.audit()).toMatchObject({ orders: 301, charged: 30_100, doubleCharges: [] });
    expect(model.orders().map((o) => o.orderNo).slice(0, 2)).toEqual(['T-0', 'T-1']);
  });
});

describe('a file of the older layout', () => {
  it('is carried over: open orders still settle, the ledger, refunds and terminals are kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanpay-backend-store-'));
    dirs.push(dir);
    const file = join(dir, 'backend.db');
    const old = new Database(file);
    old.exec('CREATE TABLE records (ns TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY (ns, k)); CREATE TABLE ledger (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);');
    const put = old.prepare('INSERT INTO records (ns, k, v) VALUES (?, ?, ?)');
    const paidCode = '134567890123456123';
    const slowCode = '134567890123456805';
    const order = (orderNo: string, code: string, state: string, extra: object) =>
      JSON.stringify({ orderNo, detail: { code, wallet: 'wechat', amount: 500, currency: 'CNY', behaviour: { kind: 'instant' } }, state, createdAt: 0, refundedAmount: 0, acquirerTradeNo: 'SIM1', history: [], ...extra });
    put.run('orders', 'T0000001-A', order('T0000001-A', paidCode, 'REFUND', { paidAt: 0, refundedAmount: 200 }));
    put.run('orders', 'T0000001-B', order('T0000001-B', slowCode, 'USERPAYING', { confirmAt: 5_000 }));
    put.run('codes', paidCode, JSON.stringify({ wallet: 'wechat', issuedAt: 0, expiresAt: 60_000, usedBy: 'T0000001-A' }));
    put.run('refunds', 'R1', JSON.stringify({ orderNo: 'T0000001-A', amount: 200, at: 1 }));
    put.run('terminal-keys', DEMO_TERMINAL.terminalId, JSON.stringify([{ key: DEMO_TERMINAL.key.toString('base64'), version: 3 }]));
    put.run('terminal-orders', `${DEMO_TERMINAL.terminalId} T0000001-A`, '1');
    const entry = (seq: number, kind: string, amount: number) => JSON.stringify({ seq, at: 0, kind, orderNo: 'T0000001-A', amount, currency: 'CNY', wallet: 'wechat', code: maskCode(paidCode) });
    old.prepare('INSERT INTO ledger (seq, entry) VALUES (?, ?)').run(1, entry(1, 'charge', 500));
    old.prepare('INSERT INTO ledger (seq, entry) VALUES (?, ?)').run(2, entry(2, 'refund', 200));
    old.close();

    const clock = new ManualClock(10_000);
    const { sim, app } = buildBackend({ clock, storePath: file });
    expect(sim.order('T0000001-A')).toMatchObject({ state: 'REFUND', charged: 500, refunded: 200, refunds: [{ refundNo: 'R1', amount: 200 }] });
    // Due before the restart: the first call settles it, charged once, after the old entries.
    expect(sim.order('T0000001-B')).toMatchObject({ state: 'SUCCESS', charged: 500, paidAt: 5_000 });
    expect(sim.ledger().map((e) => [e.seq, e.orderNo, e.kind])).toEqual([
      [1, 'T0000001-A', 'charge'],
      [2, 'T0000001-A', 'refund'],
      [3, 'T0000001-B', 'charge'],
    ]);
    expect(sim.audit()).toMatchObject({ orders: 2, charged: 1000, netCharged: 800, doubleCharges: [] });
    expect(sim.device.terminals()[0]).toMatchObject({ terminalId: DEMO_TERMINAL.terminalId, keyVersion: 3 });
    expect(sim.issue('wechat', { kind: 'instant' }).code).not.toBe(paidCode);
    void app.close();
  });
});
