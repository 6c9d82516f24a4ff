/**
 * A POS driving a running agent as a till would: a fresh customer code (from the simulator's
 * control API, or made here for a backend that pays any code), `POST /v1/payments` with it,
 * and the end read from the event stream. The client is the CLI's own
 * (agent/cli/pos-client.ts), so the calls are those of `scanpay pay`.
 */
import { readFileSync } from 'node:fs';
import { PosClient } from '../agent/cli/pos-client.ts';
import type { PosPayment } from '../agent/pos-payment.ts';
import { tokenPath } from '../agent/token.ts';

export interface PosDriver {
  /** One payment from scan to its end (on `lane`, else the first); true when it ended paid. */
  pay(id: string, lane?: string): Promise<boolean>;
  /**
   * Has the simulator issue `n` customers' codes now, for the next `n` payments to use: the
   * customer's wallet makes its code before the cashier scans it, so a timed run need not
   * count the simulator's control call (on loopback, in the same two cores) as the agent's.
   */
  issueAhead(n: number): Promise<void>;
  close(): void;
}

export function posClient(home: string, apiUrl: string): PosClient {
  return new PosClient({ baseUrl: apiUrl, token: readFileSync(tokenPath(home), 'utf8').trim() });
}

/** Where a customer's code comes from: the simulator's control API (its wallets know the code), or made here. */
export type CodeSource = () => Promise<string>;

/** A fresh code from the simulator, whose wallet pays it at once. */
export function simulatorCodes(simulatorUrl: string): CodeSource {
  return async () => {
    const res = await fetch(`${simulatorUrl}/control/codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ wallet: 'wechat', behaviour: { kind: 'instant' } }) });
    if (!res.ok) throw new Error(`the simulator refused a code: HTTP ${res.status}`);
    return ((await res.json()) as { code: string }).code;
  };
}

export async function openPosDriver(client: PosClient, issue: CodeSource): Promise<PosDriver> {
  const stream = new AbortController();
  const finals = new Map<string, (p: PosPayment) => void>();
  let hello!: () => void;
  const ready = new Promise<void>((r) => (hello = r));
  const events = client.events((e) => {
    if (e.event === 'hello') return hello();
    const p = e.data as PosPayment;
    if (e.event === 'payment' && p.result !== null) finals.get(p.id)?.(p);
  }, stream.signal);
  // Before the hello, a payment's end could be missed; an ended stream fails the run.
  await Promise.race([ready, events.then(() => Promise.reject(new Error('the event stream ended before its hello')))]);
  const issued: string[] = [];
  return {
    async issueAhead(n) {
      for (let i = 0; i < n; i++) issued.push(await issue());
    },
    async pay(id, lane) {
      const code = issued.shift() ?? (await issue());
      // Waiting from before the create: an instant payment may end before its 201 arrives.
      const final = new Promise<PosPayment>((r) => finals.set(id, r));
      const created = await client.create({ id, amount: 100, paymentCode: code, lane });
      const end = created.result !== null ? created : await final;
      finals.delete(id);
      return end.result === 'paid';
    },
    close: () => stream.abort(),
  };
}
