import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../agent/errors.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const rows = new Map(
  [...doc.matchAll(/^\| `([A-Z_]+)` \| (yes|no) \| (\d{3}) \|/gm)].map((m) => [m[1]!, { retryable: m[2] === 'yes', status: Number(m[3]) }]),
);

describe('error catalog and docs/errors.md', () => {
  it('documents every code with its retryable flag and HTTP status', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(rows.get(code), `docs/errors.md lacks ${code}`).toEqual({ retryable: spec.retryable, status: spec.status });
    }
  });

  it('documents no code that the catalog does not have', () => {
    const unknown = [...rows.keys()].filter((c) => !Object.hasOwn(ERRORS, c));
    expect(unknown).toEqual([]);
  });

  it('uses the area prefixes of the convention', () => {
    for (const code of Object.keys(ERRORS)) expect(code).toMatch(/^(PAY|SCAN|BACKEND|JOURNAL|CONFIG|PROTO|API|SIM)_[A-Z_]+$/);
  });
});
