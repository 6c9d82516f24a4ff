import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { machineEdges, mermaid } from '../../agent/payment/machine-diagram.ts';
import { paymentMachine } from '../../agent/payment/payment.machine.ts';

const doc = readFileSync(new URL('../../docs/payment-flow.md', import.meta.url), 'utf8');

describe('docs/payment-flow.md', () => {
  it('shows the payment machine as it is: every state and transition, nothing else', () => {
    expect(doc).toContain(mermaid(paymentMachine));
  });

  it('the diagram is read from the machine, not written by hand', () => {
    const edges = machineEdges(paymentMachine);
    // Each guarded branch of the machine that leads somewhere is an edge.
    expect(edges).toContain('querying.asking --> reversing : error');
    expect(edges).toContain('restoring --> waitingNetwork : always');
    expect(edges).toContain('payMayHaveArrived --> querying : always');
    expect(edges).toContain('reversing.asking --> reversing.backoff : done');
    const states = new Set(edges.flatMap((e) => e.split(' : ')[0]!.split(' --> ')));
    for (const s of ['submitting', 'waitingNetwork', 'querying', 'reversing', 'paid', 'declined', 'reversed', 'reversalQueued']) expect(states).toContain(s);
  });
});
