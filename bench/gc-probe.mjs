// Preloaded (`node --expose-gc --import bench/gc-probe.mjs …`) into the processes the
// footprint figure measures: on SIGUSR2 a full garbage collection, then the process's
// memory use written to $SCANPAY_BENCH_GC_FILE. Bench-only: the agent has no such hook.
import { renameSync, writeFileSync } from 'node:fs';

const file = process.env.SCANPAY_BENCH_GC_FILE;
if (file && typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', () => {
    // Twice: the first pass can leave objects that only become garbage after finalizers run.
    globalThis.gc();
    globalThis.gc();
    writeFileSync(`${file}.tmp`, JSON.stringify(process.memoryUsage()));
    renameSync(`${file}.tmp`, file);
  });
}
