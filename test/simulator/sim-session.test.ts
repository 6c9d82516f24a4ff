/**
 * The desktop simulator's session without a browser: a code drawn as a QR image goes
 * through the real image decoder into the virtual scanner; the agent restarts on the same
 * journal and keeps serving; a refund shows in the ledger, which stays balanced.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/log.ts';
import { DEMO_PROFILES } from '../../simulator/demo-profiles.ts';
import { startSimSession } from '../../simulator/sim-session.ts';

describe('sim session', () => {
  it('scans a QR image, survives an agent restart, refunds, and keeps the ledger balanced', async () => {
    const s = await startSimSession({ logger: silentLogger, ...DEMO_PROFILES });
    try {
      const paid = new Promise<void>((resolve) => s.onChange(() => s.snapshot().payment?.result === 'paid' && resolve()));
      const p = await s.pay(500);
      const { code, png } = await s.issueCode('alipay', { kind: 'instant' });
      expect(await s.presentImage(png, 'phone.png')).toEqual({ text: code, result: 'accepted' });
      await paid;
      await expect(s.presentImage(Buffer.from('not an image'), 'x.bin')).rejects.toThrow(/neither PNG nor JPEG/);

      await s.restartAgent();
      expect(s.snapshot().agent.up).toBe(true);
      expect((await s.refund(p.id)) as { state: string }).toMatchObject({ state: 'refunded' });
      const { ledger } = s.snapshot();
      expect(ledger.entries.map((e) => e.kind)).toEqual(['charge', 'refund']);
      expect(ledger.alarms).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
