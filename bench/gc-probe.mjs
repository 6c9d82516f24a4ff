// Preloaded (`node --expose-gc --import bench/gc-probe.mjs …`) into the processes the
// footprint figure measures: on SIGUSR2 a full garbage collection, then the process's
// memory use written to $SCANPAY_BENCH_GC_FILE. Bench-only: the agent has no such hook.
// With $SCANPAY_BENCH_HEAP_SNAPSHOT (a directory) each reading also writes a heap snapshot
// there (<pid>-<n>.heapsnapshot): bench/heap-diff.mjs compares two of them by constructor.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

const file = process.env.SCANPAY_BENCH_GC_FILE;
const snapshots = process.env.SCANPAY_BENCH_HEAP_SNAPSHOT;
let taken = 0;
if (file && typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', () => {
    // Twice: the first pass can leave objects that only become garbage after finalizers run.
    globalThis.gc();
    globalThis.gc();
    const usage = process.memoryUsage();
    if (snapshots) writeHeapSnapshot(join(snapshots, `${process.pid}-${++taken}.heapsnapshot`));
    writeFileSync(`${file}.tmp`, JSON.stringify(usage));
    renameSync(`${file}.tmp`, file);
  });
}
