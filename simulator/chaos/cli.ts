/**
 * `npm run chaos -- --payments N [--seed S] [--lanes L] [--profile v1|wechat-like|alipay-like|upay-like]`: prints payments, faults by kind,
 * kills and violations; exits 1 when any invariant was violated.
 */
import { Command, InvalidArgumentError } from 'commander';
import { RULE_PROFILE_NAMES, type RuleProfileName } from '../backend/rule-profiles.ts';
import { killAllAgents } from './agent-process.ts';
import { runChaos, type DeviceFaults } from './chaos-run.ts';
import { formatTimes } from './timing.ts';
import { protocolOption } from '../../agent/cli/protocol-option.ts';
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
  .option('--profile <name>', `acquirer rules on both sides: ${RULE_PROFILE_NAMES.join(', ')} (default: those of the protocol)`, (v) => {
    if (!(RULE_PROFILE_NAMES as string[]).includes(v)) throw new InvalidArgumentError(`--profile must be one of ${RULE_PROFILE_NAMES.join(', ')}`);
    return v as RuleProfileName;
  })
  .option('--protocol <name>', 'wire format between agent and simulator: scanpay-v1 (default), wechat-v2, wechat-v3, alipay or upay', protocolOption, 'scanpay-v1' as ProtocolName)
  .option('--device-faults <list>', 'faults of the device (issue 12), comma-separated: clock:MS (agent clock off by MS), journal:N (N lost journals, then scanpay recover), backend-restart:RATE (acquirer restarts, keeping its memory)', (v) => {
    const out: Record<string, number> = {};
    for (const part of v.split(',')) {
      const m = /^(clock|journal|backend-restart):(-?\d+(?:\.\d+)?)$/.exec(part.trim());
      if (!m) throw new InvalidArgumentError(`--device-faults: "${part}" is not clock:MS, journal:N or backend-restart:RATE`);
      out[m[1]!] = Number(m[2]);
    }
    return { ...(out.clock !== undefined ? { clockOffsetMs: out.clock } : {}), ...(out.journal !== undefined ? { journalLosses: out.journal } : {}), ...(out['backend-restart'] !== undefined ? { backendRestartRate: out['backend-restart'] } : {}) };
  })
  .option('--verbose', 'print every restart and kill')
  .parse();
const o = program.opts<{ payments: number; seed: number; lanes: number; killEvery?: [number, number]; verbose?: boolean; deviceFaults?: DeviceFaults; profile?: RuleProfileName; protocol: ProtocolName }>();

// Stopped by a signal, the runner must not leave its agent running on the shared machine.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllAgents();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

const r = await runChaos({
  payments: o.payments,
  seed: o.seed,
  lanes: o.lanes,
  protocol: o.protocol,
  ...(o.killEvery ? { killEveryMs: o.killEvery } : {}),
  ...(o.profile ? { profile: o.profile } : {}),
  ...(o.deviceFaults ? { deviceFaults: o.deviceFaults } : {}),
  progress: (line) => (o.verbose || /payments,/.test(line)) && process.stderr.write(`${line}\n`),
});
const lines = [
  `chaos run (${o.protocol}), ${r.profile} rules, seed ${r.seed}: ${r.payments} payments in ${(r.durationMs / 1000).toFixed(1)} s`,
  `  POS told: paid ${r.told.paid}, declined ${r.told.declined}, not charged ${r.told.not_charged}, no answer ${r.told.unknown}`,
  `  agent: ${r.kills} kills (SIGKILL and crash points), ${r.starts} starts`,
  `  faults injected: ${Object.entries(r.faults)
    .sort()
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')}`,
  `  refused at once by the agent (nothing sent): ${r.refusals.length}`,
  `  refunds asked through the POS API, by the answer seen: ${Object.entries(r.refunds).sort().map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`,
  '  cashier-visible time, POS request to final answer (and cashier cancel to final answer):',
  ...formatTimes(r.cashierTimes),
  `  violations: ${r.violations.length}`,
  ...r.violations.map((v) => `    ${v}`),
];
process.stdout.write(`${lines.join('\n')}\n`);
process.exitCode = r.violations.length === 0 ? 0 : 1;
