/** Figure 5, decoding: bench/decode.ts's rows as result rows, each decoder beside @zxing/library. */
import { decodeBench } from './decode.ts';
import { row, type Figure } from './stats.ts';

export async function decoding(): Promise<Figure> {
  const { samples, rows } = await decodeBench();
  const base = rows[0]!;
  const others = rows.slice(1).filter((r) => r.ms !== undefined);
  const fig = 'decoding';
  return {
    name: 'decode',
    rows: [
      ...others.map((r) => row({ figure: fig, measure: 'median time per frame', value: base.ms!, reference: r.name, refValue: r.ms!, unit: 'ms', better: 'lower' })),
      ...others.map((r) => row({ figure: fig, measure: `frames decoded of ${samples}`, value: base.ok!, reference: r.name, refValue: r.ok!, unit: 'frames', better: 'higher' })),
    ],
    checks: { '@zxing/library ran': base.ms !== undefined },
    details: { samples, decoders: rows.map(({ name, ms, ok, note }) => ({ name, ms, ok, note })) },
  };
}
