/**
 * `npx tsx bench/pos-ab.ts OTHER/agent/bin/scanpay.js [payments] [rounds] [lanes...]`: the
 * POS-API throughput of another build ("before") and this one ("after"), alternating, each
 * against the floor sampled just before it, with the agent's CPU per payment. On a shared,
 * loaded machine only same-run comparisons mean anything.
 */
import { rmSync } from 'node:fs';
import { tempDir } from './agent-under-test.ts';
import { openFloor, startStampGateway } from './loopback.ts';
import { describe, throughPosApi } from './throughput.ts';

const before = process.argv[2];
if (!before) throw new Error('usage: pos-ab.ts OTHER/agent/bin/scanpay.js [payments] [rounds] [lanes...]');
const n = Number(process.argv[3] ?? 200);
const rounds = Number(process.argv[4] ?? 2);
const lanes = process.argv.length > 5 ? process.argv.slice(5).map(Number) : [1, 8];
const gateway = await startStampGateway();
const dir = tempDir();
const floor = openFloor(dir, gateway.url);
try {
  for (let round = 0; round < rounds; round++) {
    for (const l of lanes) {
      for (const [name, bin] of [['before', before], ['after', undefined]] as const) {
        const r = await throughPosApi(n, l, floor, { bin, gateway });
        process.stdout.write(`${describe(r, `${name} ${l} lane(s), ${n} payments`)}\n`);
      }
    }
  }
} finally {
  floor.close();
  await gateway.close();
  rmSync(dir, { recursive: true, force: true });
}
