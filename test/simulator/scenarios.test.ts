/**
 * The built-in scenario library (simulator/scenarios/library/, one or more per row of the
 * fault table in docs/payment-flow.md) runs and passes; the runner reports failures and
 * writes JUnit; a broken scenario file is refused with the field named.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toJUnit } from '../../simulator/scenarios/junit.ts';
import { libraryFiles } from '../../simulator/scenarios/library.ts';
import { runScenario } from '../../simulator/scenarios/run-scenario.ts';
import { loadScenario, parseScenario } from '../../simulator/scenarios/schema.ts';
import { main } from '../../agent/cli/main.ts';

describe('built-in scenarios', () => {
  const files = libraryFiles();

  it('cover every row of the payment core fault table that a terminal can provoke', async () => {
    const covered = new Set(await Promise.all(files.map(async (f) => (await loadScenario(f)).covers)));
    const table = readFileSync(new URL('../../docs/payment-flow.md', import.meta.url), 'utf8').split('## Fault table')[1]!.split('\n## ')[0]!;
    const rows = table.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| fault') && !l.includes('SIGKILL')).map((l) => l.split('|')[1]!.trim());
    // SIGKILL rows need a killed process: test/agent/crash-recovery.process.test.ts covers them.
    expect(rows.filter((r) => !covered.has(r))).toEqual([]);
  });

  for (const file of files) {
    it(basename(file, '.json'), async () => {
      const r = await runScenario(await loadScenario(file), file);
      expect(r.failures).toEqual([]);
    });
  }
});

describe('scenario runner', () => {
  it('fails a scenario whose expectation does not hold, and says why, in JUnit too', async () => {
    const s = parseScenario({ name: 'wrong on purpose', steps: [{ pay: { id: 'p1', behaviour: { kind: 'insufficient' } } }], expect: { payments: { p1: { outcome: 'paid' } }, ledger: { p1: { charges: 1 } } } }, 'inline.json');
    const r = await runScenario(s, 'inline.json');
    expect(r.ok).toBe(false);
    expect(r.failures).toEqual(['p1: expected paid, got declined (NOT_ENOUGH)', 'p1: expected ledger charges 1, got 0']);
    const xml = toJUnit([r, { ...r, name: 'fine & dandy', ok: true, failures: [] }]);
    expect(xml).toContain('<testsuite name="scanpay scenarios" tests="2" failures="1"');
    expect(xml).toContain('<failure message="p1: expected paid, got declined (NOT_ENOUGH)">');
    expect(xml).toContain('name="fine &amp; dandy"');
  });

  it('refuses an invalid scenario file naming the file, the step, the field and what was expected', () => {
    const message = (json: unknown) => {
      try {
        parseScenario(json, 'bad.json');
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    const pay = { pay: { id: 'p1' } };
    expect(message({ name: 'x', steps: [pay, { pay: { id: 'p2', amount: -5 } }], expect: {} })).toMatch(/^bad\.json: step 2 of 2 \(pay\): pay\.amount: .*expected number to be >0/);
    expect(message({ name: 'x', steps: [pay, { pya: { id: 'p2' } }], expect: {} })).toBe(
      'bad.json: step 2 of 2: a step is an object with exactly one of the keys pay, fault, clearFaults, network, backend, wait, waitFor, cancel, refund, restartAgent, settle, latePay, clientCert; got keys "pya"',
    );
    expect(message({ name: 'x', steps: [{ waitFor: { state: 'paid' } }], expect: {} })).toMatch(/^bad\.json: step 1 of 1 \(waitFor\): waitFor\.id: .*expected string, received undefined/);
    expect(message({ name: 'x', steps: [{ fault: { kind: 'explode' } }], expect: {} })).toMatch(/^bad\.json: step 1 of 1 \(fault\): fault\.kind: .*expected one of/);
    expect(message({ name: 'x', steps: [pay] })).toMatch(/^bad\.json: expect: required: what the run must end with/);
    expect(parseScenario({ name: 'x', steps: [pay], expect: {} }, 'ok.json').steps).toHaveLength(1);
  });

  it('`scanpay sim run FILE --report` prints results and writes JUnit; exit status 1 on failure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanpay-simrun-'));
    try {
      const good = join(dir, 'good.json');
      const bad = join(dir, 'bad.json');
      writeFileSync(good, JSON.stringify({ name: 'instant', steps: [{ pay: { id: 'p1' } }], expect: { payments: { p1: { outcome: 'paid' } } } }));
      writeFileSync(bad, JSON.stringify({ name: 'walk-away paid?', steps: [{ pay: { id: 'p1', behaviour: { kind: 'walkaway' } } }], expect: { payments: { p1: { outcome: 'paid' } } } }));
      const out: string[] = [];
      const write = process.stdout.write;
      process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
      let status: number;
      try {
        status = await main(['node', 'scanpay', 'sim', 'run', good, bad, '--report', join(dir, 'junit.xml')]);
      } finally {
        process.stdout.write = write;
        process.exitCode = undefined;
      }
      expect(status).toBe(1);
      expect(out.join('')).toMatch(/✓ instant[\s\S]*✗ walk-away paid\?[\s\S]*1 passed, 1 failed/);
      expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toContain('tests="2" failures="1"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
