/**
 * The desktop simulator in a real browser (Debian's chromium through playwright-core):
 * a customer who takes 5 s over the password, the network taken away mid-payment, the
 * reversal waiting in the offline queue, the network back, the reversal delivered and the
 * ledger balanced. Runs on the real clock with the short demo timings; it waits for what
 * the page shows, never for a fixed time. Screenshots go to test-artifacts/. The acquirer's
 * protocol switched from the page, with a payment through each wire format.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/log.ts';
import { DEMO_PROFILES } from '../../simulator/demo-profiles.ts';
import { startSimSession, type SimSession, type SimSnapshot } from '../../simulator/sim-session.ts';
import { buildSimUi } from '../../simulator/web/build-sim-ui.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function serve(session: SimSession) {
  const app = buildSimUi({ session, logger: silentLogger });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/` };
}

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});

afterAll(async () => {
  await browser?.close();
});

/**
 * A simulator session (a real one, or `o.session`) served to a fresh browser page, loaded
 * (and live, for a real session); the page, the server and a session started here are
 * closed after `fn`, whatever happens. `failed` lists the page's HTTP answers of 400 and up.
 */
async function withPage(fn: (t: { page: Page; session: SimSession; url: string; failed: string[] }) => Promise<void>, o: { session?: SimSession; height?: number } = {}): Promise<void> {
  const session = o.session ?? (await startSimSession({ logger: silentLogger, ...DEMO_PROFILES }));
  try {
    const { app, url } = await serve(session);
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: o.height ?? 1000 } });
      const failed: string[] = [];
      page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
      try {
        await page.goto(url);
        if (!o.session) await page.locator('#conn', { hasText: 'live' }).waitFor();
        await fn({ page, session, url, failed });
      } finally {
        await page.close();
      }
    } finally {
      await app.close();
    }
  } finally {
    if (!o.session) await session.close();
  }
}

async function statusIs(page: Page, text: string) {
  await page.locator('#pos-status', { hasText: text }).waitFor({ timeout: 20_000 });
}

/** The phone shows a fresh code and the cashier starts a payment of `amount`: the POS waits for the scan. */
async function codeShownAndPaymentStarted(page: Page, amount: string) {
  await page.click('#new-code');
  await page.locator('#qr').waitFor({ state: 'visible' });
  await page.fill('#amount', amount);
  await page.click('#start');
  await statusIs(page, 'waiting for scan');
}

describe('desktop simulator page', () => {
  it('pays with a slow customer, loses the network mid-payment, queues the reversal and delivers it when the network returns', async () => {
    await withPage(async ({ page, session }) => {
      await page.selectOption('#behaviour', 'password');
      await page.fill('#seconds', '5');
      await codeShownAndPaymentStarted(page, '12.34');
      await page.click('#present');
      await statusIs(page, 'customer entering password');
      await page.screenshot({ path: `${ARTIFACTS}sim-1-entering-password.png`, fullPage: true });

      await page.check('#offline');
      await statusIs(page, 'reversal queued');
      await page.locator('#outbox li', { hasText: 'reverse' }).waitFor();
      await page.screenshot({ path: `${ARTIFACTS}sim-2-reversal-queued.png`, fullPage: true });

      await page.uncheck('#offline');
      await statusIs(page, 'not charged');
      await page.locator('#balance', { hasText: 'ledger balanced' }).waitFor({ timeout: 20_000 });
      expect(await page.textContent('#outbox-count')).toBe('0');
      expect(await page.isHidden('#alarm')).toBe(true);
      await page.screenshot({ path: `${ARTIFACTS}sim-3-reversed-balanced.png`, fullPage: true });

      const ledger = session.snapshot().ledger;
      expect(ledger.entries.map((e) => e.kind)).toEqual(['charge', 'reversal']);
      expect(ledger.audit.netCharged).toBe(0);
    });
  });

  it('QA items (issue 19): POS errors on the POS, clear badges, a used code leaves the phone, fired faults stay logged, layout fits, favicon, restart feedback, hang honours --fast', async () => {
    await withPage(async ({ page, session, url, failed }) => {
      expect((await page.request.get(`${url}favicon.ico`)).status()).toBe(200);

      // A bad amount is the cashier's mistake: shown in the POS panel, not under the phone.
      await page.fill('#amount', '12.345');
      await page.click('#start');
      await page.locator('#pos #pos-error', { hasText: 'amount: digits with at most two decimals' }).waitFor();
      expect(await page.textContent('#scan-result')).toBe('');
      await page.screenshot({ path: `${ARTIFACTS}sim-qa-1-bad-amount.png`, fullPage: true });

      // A hang on the next pay: processed, never answered.
      await page.selectOption('#fault-kind', 'hang');
      await page.selectOption('#fault-op', 'pay');
      await page.fill('#fault-count', '1');
      await page.click('#add-fault');
      await page.locator('#faults li', { hasText: 'hang on pay' }).waitFor();

      await page.click('#new-code');
      await page.locator('#qr').waitFor({ state: 'visible' });
      await page.fill('#amount', '3.00');
      await page.click('#start');
      expect(await page.isHidden('#pos-error')).toBe(true);
      await statusIs(page, 'waiting for scan');
      await page.click('#present');
      // The phone no longer offers the code it just gave.
      await page.locator('#code-text', { hasText: 'code scanned' }).waitFor();
      expect(await page.isHidden('#qr')).toBe(true);
      expect(await page.isDisabled('#present')).toBe(true);
      // While it is under way the badge says what is open, in words that are not "settlement".
      await page.locator('#balance', { hasText: 'ledger not final: payment under way' }).waitFor();
      expect(await page.textContent('#balance')).not.toMatch(/settl/i);

      await statusIs(page, 'paid');
      await page.locator('#balance', { hasText: 'ledger balanced' }).waitFor({ timeout: 20_000 });
      // The fault fired its only call and left the active list; the log keeps it.
      await page.locator('#fired li', { hasText: 'hang → pay' }).waitFor();
      expect(await page.locator('#faults li', { hasText: 'hang' }).count()).toBe(0);
      // --fast timings: the unanswered pay was given up after the 3 s fast timeout, not the production 15 s.
      const orderNo = session.snapshot().payment!.orderNo!;
      const events = (await fetch(`${url}api/snapshot`).then((r) => r.json()) as SimSnapshot).journal;
      const submitted = events.find((e) => e.state === 'submitting')!;
      const next = events.find((e) => e.at > submitted.at && e.state !== 'submitting')!;
      expect(orderNo).toBeTruthy();
      expect(next.at - submitted.at).toBeGreaterThanOrEqual(DEMO_PROFILES.timeoutMs.pay);
      expect(next.at - submitted.at).toBeLessThan(15_000);
      await page.screenshot({ path: `${ARTIFACTS}sim-qa-2-fault-fired.png`, fullPage: true });

      // Layout: a small count box, whole order numbers, a journal that is not clipped, no empty area under the ledger.
      expect((await page.locator('#fault-count').boundingBox())!.width).toBeLessThan(90);
      // Read in one page task: the journal table re-renders on every event, and a cell found by one
      // round trip may be detached by the next (a detached cell's computed style is empty).
      const order = await page.evaluate(() => {
        const cell = document.querySelector('#entries td.mono')!;
        return { whiteSpace: getComputedStyle(cell).whiteSpace, height: cell.getBoundingClientRect().height };
      });
      expect(order.whiteSpace).toBe('nowrap');
      expect(order.height).toBeGreaterThan(0);
      expect(order.height).toBeLessThan(30);
      expect(await page.locator('#journal').evaluate((e) => e.scrollWidth <= e.clientWidth)).toBe(true);
      const gap = await page.locator('#ledger').evaluate((s) => s.getBoundingClientRect().bottom - s.lastElementChild!.getBoundingClientRect().bottom);
      expect(gap).toBeLessThan(40);

      await page.click('#restart');
      await page.locator('#agent-note', { hasText: /restarting the agent|agent restarted/ }).waitFor();
      await page.locator('#agent-note', { hasText: 'agent restarted at' }).waitFor({ timeout: 20_000 });
      await page.screenshot({ path: `${ARTIFACTS}sim-qa-3-restarted.png`, fullPage: true });
      expect(failed).toEqual([]);
    });
  });

  it('switches the acquirer protocol: the backend restarts speaking it, the agent follows, and a payment goes through on each', async () => {
    await withPage(async ({ page, session }) => {
      expect(await page.locator('#protocol option').allTextContents()).toHaveLength(5);

      // A payment under way pins the acquirer: only the one that took it can settle it.
      await page.selectOption('#behaviour', 'walkaway');
      await codeShownAndPaymentStarted(page, '2.00');
      await page.selectOption('#protocol', 'alipay');
      await page.locator('#protocol-note', { hasText: 'switch refused' }).waitFor();
      expect(session.snapshot().protocol.current).toBe('scanpay-v1');
      await page.click('#cancel');
      await statusIs(page, 'not charged');

      await page.selectOption('#behaviour', 'instant');
      const wallets: Record<string, string> = { 'wechat-v2': 'wechat', 'wechat-v3': 'wechat', alipay: 'alipay', upay: 'unionpay', 'scanpay-v1': 'ecny' };
      let cents = 101;
      for (const protocol of ['wechat-v2', 'wechat-v3', 'alipay', 'upay', 'scanpay-v1'] as const) {
        await page.selectOption('#protocol', protocol);
        await page.locator('#protocol-note', { hasText: `now speak ${protocol}` }).waitFor({ timeout: 60_000 });
        expect(session.snapshot().protocol.current).toBe(protocol);
        await page.locator('#scanners', { hasText: 'agent up' }).waitFor({ timeout: 30_000 });
        // A fresh acquirer: its ledger starts empty.
        expect(session.snapshot().ledger.entries).toEqual([]);

        if (protocol === 'upay' || protocol === 'scanpay-v1') await page.selectOption('#wallet', wallets[protocol]!);
        await codeShownAndPaymentStarted(page, (cents / 100).toFixed(2));
        await page.click('#present');
        await statusIs(page, 'paid');
        await page.locator('#balance', { hasText: 'ledger balanced' }).waitFor({ timeout: 20_000 });
        const ledger = session.snapshot().ledger.entries;
        expect(ledger.map((e) => [e.kind, e.amount, e.wallet])).toEqual([['charge', cents, wallets[protocol]]]);
        await page.screenshot({ path: `${ARTIFACTS}sim-protocol-${protocol}-paid.png`, fullPage: true });
        cents += 101;
      }
    });
  }, 600_000);

  it('shows a double charge as an unmistakable red alarm', async () => {
    // A session that reports an alarm: the page's job here is only to show it.
    const alarmed = { orderNo: 'T000000126010109000000abcd', kind: 'double-charge' as const, message: 'charged more than once (order:T000000126010109000000abcd)' };
    const snapshot: SimSnapshot = {
      at: Date.now(),
      protocol: { current: 'scanpay-v1', available: ['scanpay-v1'], switching: false },
      agent: { up: true, apiUrl: 'http://127.0.0.1:1', scanners: [] },
      payment: null,
      recent: [],
      journal: [],
      outbox: { pending: [], dead: [] },
      network: { down: false, delayMs: 0 },
      backend: { up: true, faults: [], fired: [] },
      ledger: {
        entries: [1, 2].map((seq) => ({ seq, at: Date.now(), kind: 'charge' as const, orderNo: alarmed.orderNo, amount: 1234, currency: 'CNY', wallet: 'wechat' as const, code: '13************6789' })),
        audit: { orders: 1, charged: 2468, netCharged: 2468, doubleCharges: [`order:${alarmed.orderNo}`] },
        alarms: [alarmed],
      },
    };
    const session = { snapshot: () => snapshot, onChange: () => () => {} } as unknown as SimSession;
    await withPage(
      async ({ page }) => {
        await page.locator('#alarm', { hasText: 'DOUBLE-CHARGE' }).waitFor();
        expect(await page.textContent('#balance')).toBe('ledger NOT balanced');
        expect(await page.locator('tr.alarm-row').count()).toBe(2);
        await page.screenshot({ path: `${ARTIFACTS}sim-alarm.png`, fullPage: true });
      },
      { session, height: 900 },
    );
  });
});
