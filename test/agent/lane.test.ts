import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { ScanpayError, isScanpayError } from '../../agent/errors.ts';
import { Lane, type LaneEngine, type LaneEvent } from '../../agent/lane.ts';
import { silentLogger } from '../../agent/log.ts';
import { requirePaymentCode } from '../../agent/payment-code.ts';
import type { PaymentRequest, PaymentView } from '../../agent/payment/engine.ts';
import { PosService } from '../../agent/pos-service.ts';

const WECHAT = '134567890123456789';
const EAN13 = '4006381333931';

/** An engine that accepts payments and keeps them unfinished until told otherwise. */
class FakeEngine implements LaneEngine {
  readonly paid: PaymentRequest[] = [];
  readonly views = new Map<string, PaymentView>();
  pay(req: PaymentRequest): PaymentView {
    const { wallet } = requirePaymentCode(req.paymentCode);
    if (this.paid.some((p) => p.paymentCode === req.paymentCode)) throw new ScanpayError('PAY_CODE_DUPLICATE');
    this.paid.push(req);
    const orderNo = `O${this.paid.length}`;
    const view = { orderNo, posOrderId: req.posOrderId ?? null, amount: req.amount, currency: req.currency ?? 'CNY', description: '', wallet, code: 'masked', traceId: 't', state: 'submitting', outcome: null, reasonCode: null, reasonMessage: null, customerPaying: false, cause: '', createdAt: 0, updatedAt: 0, finalAt: null, queryDeadlineAt: 0, refundedAmount: 0, lane: req.lane ?? null, alarms: [] } as PaymentView;
    this.views.set(orderNo, view);
    return view;
  }
  find(orderNo: string): PaymentView | undefined {
    return this.views.get(orderNo);
  }
  get(orderNo: string): PaymentView {
    const v = this.views.get(orderNo);
    if (!v) throw new ScanpayError('PAY_NOT_FOUND', { detail: { orderNo } });
    return v;
  }
  finish(orderNo: string): void {
    this.views.set(orderNo, { ...this.get(orderNo), state: 'paid', outcome: 'paid' });
  }
}

function setup() {
  const clock = new ManualClock();
  const engine = new FakeEngine();
  const events: LaneEvent[] = [];
  const lane = new Lane({ id: '1', engine, clock, logger: silentLogger, scanTimeoutMs: 60_000, emit: (e) => events.push(e) });
  return { clock, engine, events, lane };
}

const order = (id: string) => ({ id, amount: 1234, currency: 'CNY', description: '' });

describe('Lane', () => {
  it('holds a payment until its scan, then hands it to the engine with the POS order id', () => {
    const { lane, engine, events } = setup();
    const p = lane.create(order('A'));
    expect(p).toMatchObject({ id: 'A', state: 'waiting_scan', status: 'waiting for scan', orderNo: null });
    expect(engine.paid).toEqual([]);
    expect(lane.scan(WECHAT, 'virtual:x')).toBe('accepted');
    expect(engine.paid).toEqual([expect.objectContaining({ posOrderId: 'A', amount: 1234, paymentCode: WECHAT })]);
    expect(lane.find('A')).toBeUndefined(); // the engine's now
    expect(events.map((e) => e.type === 'payment' && e.payment.state)).toEqual(['waiting_scan']);
  });

  it('refuses a product barcode with the reason and keeps waiting; the next good scan pays', () => {
    const { lane, engine, events } = setup();
    lane.create(order('A'));
    expect(lane.scan(EAN13, 'virtual:x')).toBe('rejected');
    const rejected = events.at(-1);
    expect(rejected).toMatchObject({ type: 'payment', payment: { state: 'waiting_scan', rejection: { code: 'PAY_CODE_PRODUCT_BARCODE' } } });
    expect(rejected?.type === 'payment' && rejected.payment.status).toMatch(/^code rejected: this is a product barcode/);
    expect(engine.paid).toEqual([]);
    expect(lane.scan(WECHAT, 'virtual:x')).toBe('accepted');
    expect(engine.paid).toHaveLength(1);
  });

  it('refuses a reused code without losing the waiting payment', () => {
    const { lane, engine, events } = setup();
    lane.create(order('A'));
    lane.scan(WECHAT, 's');
    engine.finish('O1');
    lane.create(order('B'));
    expect(lane.scan(WECHAT, 's')).toBe('rejected');
    expect(events.at(-1)).toMatchObject({ payment: { id: 'B', rejection: { code: 'PAY_CODE_DUPLICATE' } } });
    expect(lane.activeId()).toBe('B');
  });

  it('reports a scan with no payment waiting, masked, and does not pay', () => {
    const { lane, engine, events } = setup();
    expect(lane.scan(WECHAT, 'virtual:x')).toBe('unmatched');
    expect(events).toEqual([{ type: 'scan_unmatched', lane: '1', source: 'virtual:x', code: '13************6789', what: 'WeChat Pay payment code', at: expect.any(Number) }]);
    expect(engine.paid).toEqual([]);
  });

  it('allows one active payment: waiting, then under way, then free once final', () => {
    const { lane, engine } = setup();
    lane.create(order('A'));
    const refuse = () => lane.create(order('B'));
    expect(refuse).toThrow(expect.objectContaining({ code: 'API_PAYMENT_ACTIVE', detail: { lane: '1', activeId: 'A' } }));
    lane.scan(WECHAT, 's');
    expect(refuse).toThrow(expect.objectContaining({ code: 'API_PAYMENT_ACTIVE' }));
    engine.finish('O1');
    expect(lane.create(order('B')).state).toBe('waiting_scan');
  });

  it('ends a payment nobody scanned for, not charged, and frees the lane', () => {
    const { lane, clock, events } = setup();
    lane.create(order('A'));
    clock.advance(59_999);
    expect(lane.activeId()).toBe('A');
    clock.advance(1);
    expect(lane.activeId()).toBeUndefined();
    expect(lane.find('A')).toMatchObject({ state: 'cancelled', result: 'not_charged', reasonCode: 'SCAN_TIMEOUT', status: 'not charged: no payment code was scanned in time' });
    expect(events.at(-1)).toMatchObject({ payment: { id: 'A', result: 'not_charged' } });
  });

  it('cancels a waiting payment; a later scan is unmatched', () => {
    const { lane, engine, clock } = setup();
    lane.create(order('A'));
    expect(lane.cancelWaiting('A')).toMatchObject({ result: 'not_charged', reasonCode: 'CANCELLED' });
    expect(clock.pending).toBe(0);
    expect(lane.scan(WECHAT, 's')).toBe('unmatched');
    expect(engine.paid).toEqual([]);
  });

  it('with a code from the POS, goes straight to the engine', () => {
    const { lane, engine } = setup();
    const p = lane.create({ ...order('A'), paymentCode: WECHAT });
    expect(p).toMatchObject({ id: 'A', orderNo: 'O1', state: 'submitting', status: 'submitting' });
    expect(engine.paid).toHaveLength(1);
  });

  it('passes a bad code from the POS back as the error, leaving the lane free', () => {
    const { lane } = setup();
    let error: unknown;
    try {
      lane.create({ ...order('A'), paymentCode: EAN13 });
    } catch (e) {
      error = e;
    }
    expect(isScanpayError(error, 'PAY_CODE_PRODUCT_BARCODE')).toBe(true);
    expect(lane.activeId()).toBeUndefined();
  });

  it('a lane with no scanner refuses a payment that would wait for a scan, and stays free', () => {
    const clock = new ManualClock();
    const engine = new FakeEngine();
    const lane = new Lane({ id: '2', engine, clock, logger: silentLogger, scanTimeoutMs: 60_000, emit: () => {}, hasScanner: () => false });
    expect(() => lane.create(order('A'))).toThrow(expect.objectContaining({ code: 'API_LANE_NO_SCANNER' }));
    expect(lane.activeId()).toBeUndefined();
    expect(clock.nextAt()).toBeUndefined(); // no scan timer holds the lane
    // The POS that scanned the code itself is served.
    expect(lane.create({ ...order('B'), paymentCode: WECHAT })).toMatchObject({ id: 'B', orderNo: 'O1' });
  });
});

describe('PosService amount limit', () => {
  it('checks the limit in force in the engine (the acquirer lowered it), not a second copy from config', () => {
    const engine = Object.assign(new FakeEngine(), {
      maxAmount: 500_000,
      list: () => [],
      cancel: () => {
        throw new Error('unused');
      },
      refund: async () => {
        throw new Error('unused');
      },
      refunds: () => [],
      unfinished: () => [],
      onChange: () => () => {},
    });
    const service = new PosService({ engine, laneIds: ['1'], orderNoOf: () => undefined, currency: 'CNY', scanTimeoutMs: 60_000, clock: new ManualClock(), logger: silentLogger });
    engine.maxAmount = 1_000;
    expect(() => service.create({ id: 'BIG', amount: 2_000, paymentCode: WECHAT })).toThrow(expect.objectContaining({ code: 'PAY_AMOUNT_INVALID' }));
    expect(engine.paid).toEqual([]);
    expect(service.create({ id: 'OK', amount: 1_000, paymentCode: WECHAT }).created).toBe(true);
  });
});
