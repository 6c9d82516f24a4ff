/**
 * Figure 5, decoding: bench/decode.ts's rows as result rows, scanpay's decoder (decoder
 * thread) beside each other decoder, and the event-loop delay while codeless frames
 * stream in beside decoding on the main thread as before.
 */
import { decodeBench } from './decode.ts';
import { row, type Figure } from './stats.ts';

export async function decoding(): Promise<Figure> {
  const { samples, rows, loop } = await decodeBench();
  const ours = rows[0]!;
  const others = rows.slice(1).filter((r) => r.ms !== undefined);
  const worker = loop.find((l) => l.name.startsWith('scanpay: zxing-wasm'))!;
  const source = loop.find((l) => l.name.startsWith('scanpay: a pipe: source, 1280'))!;
  const idle = loop.find((l) => l.name.startsWith('nothing decoding'))!;
  const before = loop.find((l) => l.name.startsWith('@zxing/library on the main thread'))!;
  const fig = 'decoding';
  return {
    name: 'decode',
    rows: [
      ...others.map((r) => row({ figure: fig, measure: 'median time per frame', value: ours.ms!, reference: r.name, refValue: r.ms!, unit: 'ms', better: 'lower' })),
      ...others.map((r) => row({ figure: fig, measure: `frames decoded of ${samples}`, value: ours.ok!, reference: r.name, refValue: r.ok!, unit: 'frames', better: 'higher' })),
      row({ figure: fig, measure: 'event-loop delay p99, codeless frames at 10/s', value: worker.p99, reference: before.name, refValue: before.p99, unit: 'ms', better: 'lower', target: 'p99 < 20 ms', met: worker.p99 < 20 }),
      row({ figure: fig, measure: 'event-loop delay p99, codeless frames at 10/s through a pipe: source', value: source.p99, reference: idle.name, refValue: idle.p99, unit: 'ms', better: 'lower', target: 'p99 < 20 ms', met: source.p99 < 20 }),
    ],
    checks: { 'scanpay decoder ran': ours.ms !== undefined },
    details: { samples, decoders: rows.map(({ name, ms, ok, note }) => ({ name, ms, ok, note })), loop },
  };
}
