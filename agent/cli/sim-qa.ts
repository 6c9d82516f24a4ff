/**
 * The desktop simulator's commands (simulator/README.md):
 *   `scanpay sim`            backend + fault proxy + demo agent + the live web page;
 *   `scanpay sim run FILES…` scenario files headless, reported like a test runner;
 *   `scanpay sim fleet`      many terminals against one backend, with invariants checked.
 */
import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { createLogger } from '../log.ts';
import { runFleet, parseFleetFaults, type FleetProgress } from '../../simulator/fleet.ts';
import { toJUnit } from '../../simulator/scenarios/junit.ts';
import { libraryFiles } from '../../simulator/scenarios/library.ts';
import { runScenario, type ScenarioResult } from '../../simulator/scenarios/run-scenario.ts';
import { loadScenario } from '../../simulator/scenarios/schema.ts';
import { startSimSession } from '../../simulator/sim-session.ts';
import { DEMO_PROFILES } from '../../simulator/demo-profiles.ts';
import { buildSimUi } from '../../simulator/web/build-sim-ui.ts';
import { isLoopback } from '../loopback.ts';
import { integer, nextSignal } from './sim.ts';
import { protocolOption } from './protocol-option.ts';
import type { ProtocolName } from '../backend/acquirer-profile.ts';

export const SIM_UI_DEFAULTS = { port: 8480, host: '127.0.0.1' } as const;

/** `60`, `60s`, `2m`, `1500ms` → milliseconds. */
function duration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('--duration must be a number of seconds, or a number followed by ms, s or m (e.g. 60s)');
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };
  const ms = Number(m[1]) * unit[m[2] ?? 's']!;
  if (ms < 100 || ms > 24 * 3_600_000) throw new InvalidArgumentError('--duration must be between 100ms and 24h');
  return Math.round(ms);
}

function faults(value: string) {
  try {
    return parseFleetFaults(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function registerSimQa(sim: Command): void {
  sim
    .option('--port <n>', `web page port (0 picks a free one; default ${SIM_UI_DEFAULTS.port})`, integer('--port', 0, 65535), SIM_UI_DEFAULTS.port)
    .option('--host <h>', 'address of the web page (it controls the simulator unauthenticated: keep it on loopback)', SIM_UI_DEFAULTS.host)
    .option('--fast', 'short wallet timings (3 s deadline, quick retries) so every fault plays out in seconds')
    .action(async (opts: { port: number; host: string; fast?: boolean }) => {
      const logger = createLogger({ name: 'scanpay-sim' });
      if (!isLoopback(opts.host)) logger.warn({ host: opts.host }, 'the simulator page is unauthenticated and now reachable from the network');
      const stopped = nextSignal(['SIGINT', 'SIGTERM']);
      const session = await startSimSession({ logger, ...(opts.fast ? DEMO_PROFILES : {}) });
      const app = buildSimUi({ session, logger });
      const url = await app.listen({ port: opts.port, host: opts.host });
      process.stdout.write(`scanpay desktop simulator: open ${url}\n(agent in demo mode, simulated backend, fault proxy; Ctrl-C to stop)\n`);
      await stopped;
      await app.close();
      await session.close();
      logger.flush();
    });

  sim
    .command('run')
    .description('run scenario files (JSON) headless and report like a test runner; without files, the built-in library')
    .argument('[files...]', 'scenario files (simulator/README.md: scenario format)')
    .option('--report <file>', 'also write a JUnit XML report')
    .option('--protocol <p>', 'run against the simulator of this API (scanpay-v1, wechat-v2, wechat-v3); without files, its built-in library', protocolOption)
    .action(async (files: string[], opts: { report?: string; protocol?: ProtocolName }) => {
      const chosen = files.length ? files : libraryFiles(opts.protocol);
      const results: ScenarioResult[] = [];
      for (const file of chosen) {
        const r = await runScenario(await loadScenario(file), file, { protocol: opts.protocol });
        results.push(r);
        process.stdout.write(`${r.ok ? '✓' : '✗'} ${r.name}  (${r.durationMs} ms, ${(r.simulatedMs / 1000).toFixed(1)} s simulated)\n`);
        for (const f of r.failures) process.stdout.write(`    ${f}\n`);
      }
      const failed = results.filter((r) => !r.ok).length;
      process.stdout.write(`\n${results.length - failed} passed, ${failed} failed\n`);
      if (opts.report) writeFileSync(opts.report, toJUnit(results));
      process.exitCode = failed ? 1 : 0;
    });

  sim
    .command('fleet')
    .description('many terminals against one simulated backend: throughput, latency percentiles, invariant violations')
    .requiredOption('--terminals <n>', 'number of terminals', integer('--terminals', 1, 2000))
    .requiredOption('--duration <d>', 'how long terminals keep paying (e.g. 60s, 2m)', duration)
    .option('--faults <list>', 'backend faults, comma-separated kind[@op][:N]: N is the rate (0–1) or, for latency, milliseconds; e.g. lost-response:0.02,http5xx@pay:0.02,latency:50', faults)
    .option('--seed <s>', 'seed of the customers and faults', integer('--seed', 0, 2 ** 31 - 1), 1)
    .option('--json', 'print the report as JSON')
    .action(async (opts: { terminals: number; duration: number; faults?: ReturnType<typeof parseFleetFaults>; seed: number; json?: boolean }) => {
      const tty = process.stderr.isTTY;
      const show = (p: FleetProgress) =>
        process.stderr.write(
          `${tty ? '\r\x1b[K' : ''}[${(p.elapsedMs / 1000).toFixed(0)}s ${p.phase}] ${p.finished} payments ended, ${p.inProgress} under way, ${p.perSecond.toFixed(1)}/s, p95 ${Math.round(p.p95Ms)} ms, violations ${p.violations}${tty ? '' : '\n'}`,
        );
      const r = await runFleet({ terminals: opts.terminals, durationMs: opts.duration, faults: opts.faults ?? [], seed: opts.seed, onProgress: show });
      if (tty) process.stderr.write('\n');
      if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else {
        const p = r.payments;
        process.stdout.write(
          [
            `${r.terminals} terminals for ${(r.durationMs / 1000).toFixed(1)} s`,
            `payments: ${p.started} started, ${p.paid} paid, ${p.declined} declined, ${p.reversed} reversed, ${p.rejected} rejected, ${p.unfinished} unfinished`,
            `throughput: ${r.throughputPerSec} payments/s`,
            `latency (pay to final): p50 ${r.latencyMs.p50} ms, p95 ${r.latencyMs.p95} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
            `backend calls: ${r.backendCalls}, hit by a fault: ${r.faultHits}`,
            `invariant violations: ${r.violations.length}`,
            ...r.violations.map((v) => `  ${v.kind} ${v.orderNo}: ${v.message}`),
            '',
          ].join('\n'),
        );
      }
      process.exitCode = r.violations.length || r.payments.unfinished ? 1 : 0;
    });
}
