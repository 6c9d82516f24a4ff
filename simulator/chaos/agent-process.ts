/**
 * The real agent daemon (`scanpay run`) as a child process the chaos runner can SIGKILL and
 * restart. Each start may carry a crash point (agent/crash-points.ts) so that the power is
 * cut at a precise moment: between the journal write and the request, or between the
 * backend's answer and the journal update.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readAgentFile } from '../../agent/agent-file.ts';
import { PosClient } from '../../agent/cli/pos-client.ts';

const BIN = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The agent died before its API answered: a crash point hit during recovery, or a kill. */
export class AgentDiedDuringStart extends Error {}

/** Every agent a runner started and that still runs: a runner stopped by a signal ends them (cli.ts). */
const live = new Set<ChildProcess>();

/** Sends SIGKILL to every agent still running; synchronous, so it can run in a signal handler. */
export function killAllAgents(): void {
  for (const child of live) child.kill('SIGKILL');
}

export class AgentProcess {
  readonly #home: string;
  readonly #backendUrl: string;
  readonly #protocol: string;
  #child: ChildProcess | undefined;
  #exited: Promise<AgentExit> | undefined;
  #stderrTail = '';
  /** Deaths by SIGKILL, whether the runner sent it or a crash point did. */
  kills = 0;
  starts = 0;
  /** Whether the running process was started with a crash point or journal faults. */
  armed = false;
  /** Journal writes the agents failed on purpose (SCANPAY_JOURNAL_FAULTS), as they reported them. */
  journalFaults = 0;

  /** Extra environment of every start, e.g. SCANPAY_FAKE_CLOCK_OFFSET_MS (a wrong device clock). */
  readonly #env: Record<string, string>;

  constructor(o: { home: string; backendUrl: string; protocol?: string; env?: Record<string, string> }) {
    this.#home = o.home;
    this.#backendUrl = o.backendUrl;
    this.#protocol = o.protocol ?? 'scanpay-v1';
    this.#env = o.env ?? {};
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /**
   * Starts the daemon and resolves with a client once its API answers; `journalFaults`
   * (`RATE@SEED`) makes that run's journal writes fail (agent/journal-faults.ts).
   */
  async start(crashAt?: string, journalFaults?: string): Promise<PosClient> {
    // A stale agent.json from a killed run would point the client at a dead port.
    rmSync(`${this.#home}/agent.json`, { force: true });
    const child = spawn(process.execPath, [BIN, 'run', '--demo', '--backend', this.#backendUrl, '--protocol', this.#protocol, '--port', '0'], {
      env: { SCANPAY_SOURCE: '1', ...process.env, ...this.#env, SCANPAY_HOME: this.#home, SCANPAY_LOG_LEVEL: 'warn', ...(crashAt ? { SCANPAY_CRASH_AT: crashAt } : { SCANPAY_CRASH_AT: '' }), SCANPAY_JOURNAL_FAULTS: journalFaults ?? '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.#child = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    this.starts++;
    this.armed = crashAt !== undefined || journalFaults !== undefined;
    child.stderr!.on('data', (d: Buffer) => {
      const text = d.toString();
      this.journalFaults += text.match(/^journal fault injected: /gm)?.length ?? 0;
      this.#stderrTail = (this.#stderrTail + text).slice(-4000);
    });
    this.#exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (signal === 'SIGKILL') this.kills++;
        resolve({ code, signal });
      }),
    );
    // A loaded machine can take tens of seconds to start node under tsx.
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
      if (!this.running) {
        const { code, signal } = await this.exited();
        if (signal === 'SIGKILL') throw new AgentDiedDuringStart('killed during start');
        throw new Error(`the agent exited during start (code ${code}): ${this.#stderrTail}`);
      }
      const file = readAgentFile(this.#home);
      if (file && file.pid === child.pid) {
        const client = PosClient.forHome(this.#home, { ...process.env, SCANPAY_HOME: this.#home });
        try {
          await client.request('GET', '/v1/agent');
          return client;
        } catch {
          // not listening yet
        }
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    // Never leave it behind: the caller gives up on this process.
    await this.kill();
    throw new Error(`the agent did not become ready within 60 s: ${this.#stderrTail}`);
  }

  /** Resolves when the current process has exited, however it ended. */
  exited(): Promise<AgentExit> {
    return this.#exited ?? Promise.resolve({ code: 0, signal: null });
  }

  /** Cuts the power. */
  async kill(): Promise<void> {
    if (this.running) this.#child!.kill('SIGKILL');
    await this.exited();
  }

  /** A clean stop (SIGTERM): the agent finishes what it can and records where it stood. */
  async stop(): Promise<AgentExit> {
    if (this.running) this.#child!.kill('SIGTERM');
    return this.exited();
  }

  get stderrTail(): string {
    return this.#stderrTail;
  }
}
