/**
 * The one retry backoff of the agent (reverse retries in the payment machine, the outbox):
 * exponential with full jitter, a wait drawn uniformly from [0, cap]. After an outage a
 * fleet of terminals spreads its retries over the whole window instead of meeting the
 * backend in lockstep (AWS Architecture Blog, "Exponential Backoff And Jitter").
 */

/** The cap for retry number `attempt` (0-based): base doubling up to max. */
export function backoffCap(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
}

/** A wait in [0, cap] for retry number `attempt` (0-based); `random` returns [0, 1). */
export function backoff(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  return Math.round(random() * backoffCap(attempt, baseMs, maxMs));
}
