/** JUnit XML for scenario results, the format CI servers read (one testcase per scenario). */
import type { ScenarioResult } from './run-scenario.ts';

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export function toJUnit(results: ScenarioResult[], suite = 'scanpay scenarios'): string {
  const failed = results.filter((r) => !r.ok).length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const total = results.reduce((n, r) => n + r.durationMs, 0);
  const cases = results.map((r) => {
    const open = `  <testcase classname="${xml(r.file)}" name="${xml(r.name)}" time="${seconds(r.durationMs)}"`;
    if (r.ok) return `${open}/>`;
    return `${open}>\n    <failure message="${xml(r.failures[0] ?? 'failed')}">${xml(r.failures.join('\n'))}</failure>\n  </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuite name="${xml(suite)}" tests="${results.length}" failures="${failed}" errors="0" time="${seconds(total)}">`,
    ...cases,
    '</testsuite>',
    '',
  ].join('\n');
}
