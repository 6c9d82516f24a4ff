/**
 * `/metrics` in Prometheus text format (prom-client, on a registry of our own so nothing
 * global leaks between agents in one process). Gauges that mirror durable state (the
 * outbox) or device state (scanners) are read at scrape time, so they cannot drift.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PosEvent } from './pos-service.ts';

export interface MetricSources {
  outbox(): { pending: number; dead: number };
  scanners(): Array<{ source: string; status: string }>;
  /** Device minus backend, ms, when measured (agent/clock-offset.ts). */
  clockSkewMs?(): number | undefined;
  /** The device's own faults that need a person, by kind (agent/payment/payment-alarms.ts). */
  alarms?(): Record<string, number>;
  /** The agent's clock (the one payments' `finalAt` is written by). */
  now(): number;
}

export interface AgentMetrics {
  readonly contentType: string;
  text(): Promise<string>;
  /** Feed every POS event: counts payments by result once each, and unmatched scans. */
  observe(e: PosEvent): void;
  /** HttpAcquirer's onCall hook. */
  backendCall(op: string, result: string, latencyMs: number): void;
}

/**
 * A payment is counted by the event that ends it. It is emitted again later, with its result,
 * when it is refunded or a follow-up of it settles, and its end itself may come twice (the
 * reversal's change, then its outbox item's); the process may also restart between its end
 * and a refund. So an event counts only if its payment ended (`finalAt`) in this process and
 * at most ENDED_RECENTLY_MS ago, and once: the ids counted within that window are kept to
 * tell a repeat. A repeat of an end comes within milliseconds of it; the window is wider for
 * the "paid" event, which waits for the journal's sync after `finalAt` is written (seconds
 * on a stalling SD card). The kept ids are those of the last 30 s, not of the last 10,000.
 */
const ENDED_RECENTLY_MS = 30_000;
/** Past this many ids within the window (far beyond any lane's pace) the oldest go first. */
const COUNTED_KEPT_MAX = 2_048;

export function createMetrics(sources: MetricSources): AgentMetrics {
  const registry = new Registry();
  const payments = new Counter({ name: 'scanpay_payments_total', help: 'Payments that ended, by result (paid, declined, not_charged).', labelNames: ['result'], registers: [registry] });
  const unmatched = new Counter({ name: 'scanpay_scans_unmatched_total', help: 'Scans that arrived with no payment waiting on their lane.', registers: [registry] });
  const latency = new Histogram({
    name: 'scanpay_backend_request_duration_seconds',
    help: 'Acquirer calls by operation and result (answer, not_sent, unknown).',
    labelNames: ['op', 'result'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
    registers: [registry],
  });
  new Gauge({
    name: 'scanpay_outbox_pending',
    help: 'Follow-ups (reversals, refunds) waiting in the outbox.',
    registers: [registry],
    collect() {
      this.set(sources.outbox().pending);
    },
  });
  new Gauge({
    name: 'scanpay_outbox_dead',
    help: 'Outbox items given up on: each needs a technician (scanpay outbox retry).',
    registers: [registry],
    collect() {
      this.set(sources.outbox().dead);
    },
  });
  new Gauge({
    name: 'scanpay_scanner_connected',
    help: 'Whether each configured scanner is connected (1) or not (0).',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sources.scanners()) this.set({ source: s.source }, s.status === 'connected' ? 1 : 0);
    },
  });

  new Gauge({
    name: 'scanpay_clock_skew_seconds',
    help: "The device clock minus the backend's, from the backend's answers; beyond 300 s unsigned requests are refused (requests are then signed with the backend's time).",
    registers: [registry],
    collect() {
      const skew = sources.clockSkewMs?.();
      if (skew !== undefined) this.set(skew / 1000);
    },
  });
  new Gauge({
    name: 'scanpay_payment_alarms',
    help: 'Faults of the device that need a person, by kind: journal_write_failed (1 while the journal cannot be written), follow_up_overdue (reversals and refunds past their maximum age, still tried), order_forgotten (unfinished payments whose acknowledged order the acquirer no longer knows).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      for (const [kind, n] of Object.entries(sources.alarms?.() ?? {})) this.set({ kind }, n);
    },
  });
  for (const result of ['paid', 'declined', 'not_charged']) payments.inc({ result }, 0);
  const startedAt = sources.now();
  /** Ids counted within the window, by their `finalAt`, oldest first. */
  const counted = new Map<string, number>();

  return {
    contentType: registry.contentType,
    text: () => registry.metrics(),
    observe(e) {
      if (e.type === 'scan_unmatched') return unmatched.inc();
      if (e.type !== 'payment' || e.payment.result === null || e.payment.finalAt === null) return;
      const since = Math.max(startedAt, sources.now() - ENDED_RECENTLY_MS);
      for (const [id, finalAt] of counted) {
        if (finalAt >= since && counted.size <= COUNTED_KEPT_MAX) break;
        counted.delete(id);
      }
      if (e.payment.finalAt < since || counted.has(e.payment.id)) return;
      counted.set(e.payment.id, e.payment.finalAt);
      payments.inc({ result: e.payment.result });
    },
    backendCall(op, result, latencyMs) {
      latency.observe({ op, result }, latencyMs / 1000);
    },
  };
}
