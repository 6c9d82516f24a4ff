/**
 * The scenario library over the Alipay and Upay wires (simulated gateways, the adapters,
 * the real engine on one manual clock). Every scenario must end without a double charge or
 * a one-sided entry; the ones whose expectations hold for every acquirer must pass as
 * written. (Where an acquirer differs by design, docs/acquirers/ says how: Alipay has no
 * AUTH_CODE_EXPIRED and a 60 s query deadline; Upay answers carry no signature to forge.)
 */
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { libraryFiles } from '../../simulator/scenarios/library.ts';
import { runScenario } from '../../simulator/scenarios/run-scenario.ts';
import { loadScenario } from '../../simulator/scenarios/schema.ts';

/** Scenarios whose written expectations every acquirer must meet. */
const COMMON = ['01-instant-paid', '02-pay-response-lost', '03-password-12s', '05-walk-away', '13-cancel-during-password', '15-same-code-again', '16-restart-while-querying', '17-refund-answer-lost'];

describe.each(['alipay', 'upay'] as const)('scenario library over %s', (protocol) => {
  it('leaves no double charge and no one-sided entry, and meets the common expectations', async () => {
    const results = [];
    for (const file of libraryFiles()) results.push(await runScenario(await loadScenario(file), file, { protocol }));
    expect(results.flatMap((r) => r.failures.filter((f) => f.startsWith('INVARIANT')).map((f) => `${r.name}: ${f}`))).toEqual([]);
    const common = results.filter((r) => COMMON.includes(basename(r.file, '.json')));
    expect(common).toHaveLength(COMMON.length);
    expect(common.filter((r) => !r.ok).map((r) => `${r.name}: ${r.failures.join('; ')}`)).toEqual([]);
  }, 600_000);
});
