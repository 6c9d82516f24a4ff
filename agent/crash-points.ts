/**
 * Named places where a test can have the process killed, to prove recovery from a power
 * cut at the worst moment. Inert unless SCANPAY_CRASH_AT names the point; the chaos and
 * recovery tests set it in child processes only. `name@N` kills at the Nth time the point
 * is reached, so a chaos run can cut the power in the middle of its traffic.
 */
export type CrashPoint =
  | 'pay:after-journal' // journal says "sending", request not yet on the wire
  | 'pay:after-answer' // backend answered, journal not yet updated
  | 'reverse:after-journal'
  | 'reverse:after-answer';

export const CRASH_POINTS: readonly CrashPoint[] = ['pay:after-journal', 'pay:after-answer', 'reverse:after-journal', 'reverse:after-answer'];

const hits = new Map<string, number>();

export function crashPoint(name: CrashPoint, env: NodeJS.ProcessEnv = process.env): void {
  const wanted = env.SCANPAY_CRASH_AT;
  if (!wanted) return;
  const n = (hits.get(name) ?? 0) + 1;
  hits.set(name, n);
  for (const entry of wanted.split(',')) {
    const [point, at] = entry.split('@');
    if (point === name && (at === undefined || Number(at) === n)) process.kill(process.pid, 'SIGKILL');
  }
}
