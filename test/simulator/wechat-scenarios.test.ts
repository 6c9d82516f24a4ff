/**
 * WeChat's scenario library (simulator/scenarios/library/wechat/) against both WeChat
 * simulators, through the fault proxy, on a manual clock: WeChat's own rules end every
 * payment final with the ledger balanced.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { libraryFiles } from '../../simulator/scenarios/library.ts';
import { runScenario } from '../../simulator/scenarios/run-scenario.ts';
import { loadScenario } from '../../simulator/scenarios/schema.ts';


describe.each(['wechat-v2', 'wechat-v3'] as const)('WeChat scenarios on %s', (protocol) => {
  // Only the scenarios written for this protocol (the expired client certificate is v2's: v3 uses no TLS client certificate).
  const files = libraryFiles(protocol).filter((f) => (JSON.parse(readFileSync(f, 'utf8')) as { protocols?: string[] }).protocols?.includes(protocol));
  it('has its scenarios', () => expect(files.length).toBeGreaterThanOrEqual(3));
  for (const file of files) {
    const name = basename(file, '.json');
    it(name, async () => {
      const r = await runScenario(await loadScenario(file), file, { protocol });
      expect(r.failures).toEqual([]);
    }, 60_000);
  }
});
