#!/usr/bin/env node
// `node bench/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [rows]`: what grew between
// two V8 heap snapshots (bench/gc-probe.mjs writes them with $SCANPAY_BENCH_HEAP_SNAPSHOT),
// grouped by node type and constructor or class name, largest growth in bytes first.
// Self sizes only: enough to name what accumulates (a Map's table shows as "system / Map"
// or "array", its keys as "string"), with counts to tell one big object from many small ones.
import { readFileSync } from 'node:fs';

function summarise(path) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(path, 'utf8'));
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const byKey = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + iType]];
    // Strings, numbers and code are grouped by type alone: their "names" are their contents.
    const name = type === 'object' || type === 'closure' || type === 'native' ? strings[nodes[i + iName]] : '';
    const key = name ? `${type} ${name}` : type;
    const size = nodes[i + iSize];
    const e = byKey.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += size;
    total += size;
    byKey.set(key, e);
  }
  return { byKey, total };
}

const [beforePath, afterPath, rowsArg] = process.argv.slice(2);
if (!beforePath || !afterPath) {
  process.stderr.write('usage: node bench/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [rows]\n');
  process.exit(2);
}
const before = summarise(beforePath);
const after = summarise(afterPath);
const keys = new Set([...before.byKey.keys(), ...after.byKey.keys()]);
const diff = [...keys]
  .map((key) => {
    const b = before.byKey.get(key) ?? { count: 0, bytes: 0 };
    const a = after.byKey.get(key) ?? { count: 0, bytes: 0 };
    return { key, count: a.count - b.count, bytes: a.bytes - b.bytes, countAfter: a.count };
  })
  .sort((x, y) => y.bytes - x.bytes);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
process.stdout.write(`total self size: ${kb(before.total)} -> ${kb(after.total)} (${kb(after.total - before.total)})\n`);
for (const d of diff.slice(0, Number(rowsArg ?? 25))) {
  process.stdout.write(`${kb(d.bytes).padStart(12)}  ${String(d.count).padStart(8)} objects (now ${d.countAfter})  ${d.key}\n`);
}
