/**
 * `npx tsx bench/pos-throughput.ts [payments] [lanes...] [--simulator]`: only the POS-API part
 * of the throughput figure (issue 18), each lane count against the floor measured in the same
 * run, with the agent's CPU per payment: the quick check while changing the payment path.
 * The agent's backend is the floor's stamp gateway; `--simulator` adds the runs against the
 * simulator in its own process.
 * With SCANPAY_BENCH_CPU_PROF=DIR the agent writes a V8 CPU profile there on exit.
 */
import { rmSync } from 'node:fs';
import { tempDir } from './agent-under-test.ts';
import { openFloor, startStampGateway } from './loopback.ts';
import { describe, throughPosApi } from './throughput.ts';

const simulatorToo = process.argv.includes('--simulator');
const args = process.argv.slice(2).filter((a) => a !== '--simulator');
const n = Number(args[0] ?? 300);
const lanes = args.length > 1 ? args.slice(1).map(Number) : [1, 8];
const gateway = await startStampGateway();
const dir = tempDir();
const floor = openFloor(dir, gateway.url);
try {
  for (const backend of simulatorToo ? ['gateway', 'simulator'] : ['gateway']) {
    for (const l of lanes) {
      const r = await throughPosApi(n, l, floor, backend === 'gateway' ? { gateway } : {});
      process.stdout.write(`${describe(r, `${backend}, ${l} lane(s), ${n} payments`)}\n`);
    }
  }
} finally {
  floor.close();
  await gateway.close();
  rmSync(dir, { recursive: true, force: true });
}
