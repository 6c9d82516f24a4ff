/**
 * The `scanpay` command line as child processes, for process tests: spawn it with a private
 * SCANPAY_HOME, run a command to its end, wait for a line it prints, and kill whatever is
 * still running when the file ends (reap-children.ts is the safety net behind this).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const SCANPAY_BIN = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface CliProcesses {
  /** Starts `scanpay ARGS` with SCANPAY_HOME=home (stdout and stderr piped). */
  spawn(home: string, args: string[]): ChildProcess;
  /** Runs `scanpay ARGS` to its exit. */
  run(home: string, args: string[]): Promise<CliResult>;
  /** SIGKILLs every process still running: call it in afterAll. */
  killAll(): void;
}

export function cliProcesses(o: { env?: Record<string, string> } = {}): CliProcesses {
  const children = new Set<ChildProcess>();
  const start = (home: string, args: string[]): ChildProcess => {
    const child = spawn(process.execPath, [SCANPAY_BIN, ...args], { env: { ...process.env, SCANPAY_LOG_LEVEL: 'warn', ...o.env, SCANPAY_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.on('exit', () => children.delete(child));
    return child;
  };
  return {
    spawn: start,
    run: async (home, args) => {
      const child = start(home, args);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => (stdout += d));
      child.stderr!.on('data', (d) => (stderr += d));
      return { status: await exited(child), stdout, stderr };
    },
    killAll: () => {
      for (const c of children) c.kill('SIGKILL');
    },
  };
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.on('exit', (code) => resolve(code))));
}

/** Every stdout line up to and including the first that matches; rejects, with the stderr's tail, if the process ends first. */
export function linesUntil(child: ChildProcess, pattern: RegExp): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const seen: string[] = [];
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    createInterface({ input: child.stdout! }).on('line', (l) => {
      seen.push(l);
      if (pattern.test(l)) resolve([...seen]);
    });
    child.on('exit', (code) => reject(new Error(`scanpay exited (${code}) before printing ${pattern}:\n${seen.join('\n')}\n${err.slice(-2000)}`)));
  });
}

/** The first stdout line that matches (see linesUntil). */
export async function lineMatching(child: ChildProcess, pattern: RegExp): Promise<string> {
  return (await linesUntil(child, pattern)).at(-1)!;
}
