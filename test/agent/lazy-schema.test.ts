/**
 * agent/protocol/lazy-schema.ts: a schema built on first use validates, composes and
 * reports errors as the schema itself does, and is built once.
 */
import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { lazySchema } from '../../agent/protocol/lazy-schema.ts';
import { payRequest } from '../../agent/protocol/messages.ts';

describe('lazySchema', () => {
  it('builds nothing until first used, then once', () => {
    let builds = 0;
    const s = lazySchema(() => (builds++, z.string().min(2)));
    expect(builds).toBe(0);
    expect(s.safeParse('ab').success).toBe(true);
    expect(s.safeParse('a').success).toBe(false);
    expect(builds).toBe(1);
  });

  it('answers as the eager schema, inside another schema too', () => {
    const build = () => z.object({ amount: z.number().int().positive(), code: z.string().regex(/^\d{18}$/) }).strict();
    const eager = build();
    const lazy = lazySchema(build);
    const wrapped = z.object({ inner: lazy, list: z.array(lazy).max(2) });
    for (const v of [{ amount: 1, code: '134567890123456789' }, { amount: 0, code: '1' }, { amount: 1.5, code: '134567890123456789', extra: 1 }, null, 'x']) {
      const a = eager.safeParse(v);
      const b = lazy.safeParse(v);
      expect(b.success).toBe(a.success);
      expect(b.error?.issues).toEqual(a.error?.issues);
      expect(wrapped.safeParse({ inner: v, list: [v] }).success).toBe(a.success);
    }
    expect(lazy instanceof z.ZodObject).toBe(true);
    expect('safeParse' in lazy).toBe(true);
    expect(Object.getPrototypeOf(lazy)).toBe(Object.getPrototypeOf(eager));
    // A property set on the stand-in lands on the schema.
    (lazy as unknown as Record<string, unknown>).note = 'set through the stand-in';
    expect((lazy as unknown as Record<string, unknown>).note).toBe('set through the stand-in');
    expect(lazy.optional().safeParse(undefined).success).toBe(true);
  });

  it('the protocol messages built this way still refuse what they refused', () => {
    const ok = { orderNo: 'T1ORDER0001', paymentCode: '134567890123456789', amount: 100, currency: 'CNY' };
    expect(payRequest.parse(ok)).toMatchObject({ ...ok, description: '' });
    expect(payRequest.safeParse({ ...ok, amount: -1 }).success).toBe(false);
    expect(payRequest.safeParse({ ...ok, orderNo: 'short' }).success).toBe(false);
  });
});
