/**
 * `npx tsx bench/pos-throughput.ts [payments] [lanes...]`: only the POS-API part of the
 * throughput figure (issue 18), each lane count against the floor measured in the same run,
 * with the agent's CPU per payment: the quick check while changing the payment path.
 * With SCANPAY_BENCH_CPU_PROF=DIR the agent writes a V8 CPU profile there on exit.
 */
import { rmSync } from 'node:fs';
import { tempDir } from './agent-under-test.ts';
import { openFloor, startStampGateway } from './loopback.ts';
import { throughPosApi } from './throughput.ts';

const n = Number(process.argv[2] ?? 300);
const lanes = process.argv.length > 3 ? process.argv.slice(3).map(Number) : [1, 8];
const gateway = await startStampGateway();
const dir = tempDir();
const floor = openFloor(dir, gateway.url);
try {
  for (const l of lanes) {
    const r = await throughPosApi(n, l, floor);
    const ratio = r.paymentsPerS / r.floorPerS;
    process.stdout.write(`${l} lane(s), ${n} payments: ${r.paymentsPerS.toFixed(1)}/s vs floor ${r.floorPerS.toFixed(1)}/s = ${ratio.toFixed(2)}x; agent CPU ${r.cpuMsPerPayment.toFixed(2)} ms/payment; all paid: ${r.allPaid}\n`);
  }
} finally {
  floor.close();
  await gateway.close();
  rmSync(dir, { recursive: true, force: true });
}
