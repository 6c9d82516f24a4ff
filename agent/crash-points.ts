/**
 * Named places where a test can have the process killed, to prove recovery from a power
 * cut at the worst moment. Inert unless SCANPAY_CRASH_AT names the point; the chaos and
 * recovery tests set it in child processes only.
 */
export type CrashPoint =
  | 'pay:after-journal' // journal says "sending", request not yet on the wire
  | 'pay:after-answer' // backend answered, journal not yet updated
  | 'reverse:after-journal'
  | 'reverse:after-answer';

export function crashPoint(name: CrashPoint, env: NodeJS.ProcessEnv = process.env): void {
  const wanted = env.SCANPAY_CRASH_AT;
  if (wanted && wanted.split(',').includes(name)) process.kill(process.pid, 'SIGKILL');
}
