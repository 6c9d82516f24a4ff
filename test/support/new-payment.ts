import type { NewPayment } from '../../agent/journal/journal.ts';

/** A WeChat payment as the engine would create it, for tests that write the journal directly. */
export const newPayment = (over: Partial<NewPayment> = {}): NewPayment => ({
  orderNo: 'T1260101000000abcd',
  amount: 100,
  currency: 'CNY',
  description: '',
  wallet: 'wechat',
  code: '134567890123456789',
  codeMasked: '13************6789',
  traceId: 't',
  createdAt: 1,
  codeExpiresAt: 60_001,
  queryDeadlineAt: 45_001,
  ...over,
});
