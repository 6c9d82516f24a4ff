/**
 * `npx tsx bench/syscalls.ts [payments]`: the write and sync system calls the built agent
 * makes per payment taken through its POS API (docs/performance.md, throughput), counted
 * by `strace -c` attached to the agent's threads while it takes them; the simulator runs
 * in a process of its own, so only the agent's calls count. Linux, strace on PATH.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './agent-under-test.ts';
import { openPosDriver, posClient, simulatorCodes } from './pos-driver.ts';
import { startAgentProcess, startSimulatorProcess } from './processes.ts';
import { sleep } from './spawned.ts';

const CALLS = ['fsync', 'fdatasync', 'pwrite64', 'write', 'writev', 'sendto', 'recvfrom', 'read'];

const n = Number(process.argv[2] ?? 500);
const dir = tempDir();
const sim = await startSimulatorProcess(dir);
const home = join(dir, 'agent');
const agent = await startAgentProcess(home, { backendUrl: sim.url });
const driver = await openPosDriver(posClient(home, agent.url), simulatorCodes(sim.url));
try {
  for (let i = 0; i < 20; i++) await driver.pay(`W${i}`); // warm-up: statements prepared, sockets open
  const out = join(dir, 'strace.txt');
  const strace = spawn('strace', ['-f', '-c', '-o', out, '-e', `trace=${CALLS.join(',')}`, '-p', String(agent.pid)], { stdio: 'ignore' });
  await sleep(1_000); // attached to every thread
  for (let i = 0; i < n; i++) await driver.pay(`S${i}`);
  strace.kill('SIGINT');
  await new Promise((r) => strace.once('exit', r));
  const counts = Object.fromEntries(
    readFileSync(out, 'utf8')
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => CALLS.includes(f[f.length - 1]!))
      .map((f) => [f[f.length - 1]!, Number(f[3])]), // % time, seconds, usecs/call, calls, [errors,] syscall
  );
  process.stdout.write(`${n} payments through the POS API, per payment (the agent's threads):\n`);
  for (const c of CALLS) process.stdout.write(`  ${c.padEnd(10)} ${((counts[c] ?? 0) / n).toFixed(2)}\n`);
} finally {
  driver.close();
  await agent.stop();
  await sim.stop();
}
