/**
 * `npm run chaos -- --payments N [--seed S] [--lanes L]`: prints payments, faults by kind,
 * kills and violations; exits 1 when any invariant was violated.
 */
import { Command, InvalidArgumentError } from 'commander';
import { runChaos } from './chaos-run.ts';
import { protocolOption } from '../../agent/cli/sim.ts';
import type { ProtocolName } from '../../agent/backend/acquirer-profile.ts';

const int = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number`);
  return Number(v);
};

const program = new Command('chaos')
  .option('--payments <n>', 'payments to run', int('--payments'), 200)
  .option('--seed <s>', 'seed of every random choice', int('--seed'), 1)
  .option('--lanes <n>', 'payments in flight at once', int('--lanes'), 4)
  .option('--kill-every <min-max>', 'ms between random kills', (v) => {
    const m = /^(\d+)-(\d+)$/.exec(v);
    if (!m || Number(m[1]) > Number(m[2])) throw new InvalidArgumentError('--kill-every must be MIN-MAX in ms, e.g. 800-2500');
    return [Number(m[1]), Number(m[2])] as [number, number];
  })
  .option('--protocol <p>', 'the API between agent and simulator: scanpay-v1, wechat-v2 or wechat-v3', protocolOption, 'scanpay-v1' as ProtocolName)
  .option('--verbose', 'print every restart and kill')
  .parse();
const o = program.opts<{ payments: number; seed: number; lanes: number; killEvery?: [number, number]; verbose?: boolean; protocol: ProtocolName }>();

const r = await runChaos({
  payments: o.payments,
  seed: o.seed,
  lanes: o.lanes,
  protocol: o.protocol,
  ...(o.killEvery ? { killEveryMs: o.killEvery } : {}),
  progress: (line) => (o.verbose || /payments,/.test(line)) && process.stderr.write(`${line}\n`),
});
const lines = [
  `chaos run (${o.protocol}), seed ${r.seed}: ${r.payments} payments in ${(r.durationMs / 1000).toFixed(1)} s`,
  `  POS told: paid ${r.told.paid}, declined ${r.told.declined}, not charged ${r.told.not_charged}, no answer ${r.told.unknown}`,
  `  agent: ${r.kills} kills (SIGKILL and crash points), ${r.starts} starts`,
  `  faults injected: ${Object.entries(r.faults)
    .sort()
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')}`,
  `  refused at once by the agent (nothing sent): ${r.refusals.length}`,
  `  violations: ${r.violations.length}`,
  ...r.violations.map((v) => `    ${v}`),
];
process.stdout.write(`${lines.join('\n')}\n`);
process.exitCode = r.violations.length === 0 ? 0 : 1;
