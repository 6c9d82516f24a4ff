import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FLOW_DOC, FLOW_MACHINES, machineEdges, mermaid, withDiagrams } from '../../agent/payment/machine-diagram.ts';
import { paymentMachine } from '../../agent/payment/payment.machine.ts';
import { reversalMachine } from '../../agent/payment/reversal.machine.ts';

const doc = readFileSync(FLOW_DOC, 'utf8');

describe('docs/payment-flow.md', () => {
  it('shows the payment machine and the reversal machine as they are: every state, transition and guard, nothing else', () => {
    expect(doc).toContain(`<!-- machine: payment -->\n${mermaid(paymentMachine)}`);
    expect(doc).toContain(`<!-- machine: reversal -->\n${mermaid(reversalMachine)}`);
    // Regenerating changes nothing: no stale diagram anywhere in the document.
    expect(withDiagrams(doc, FLOW_MACHINES)).toBe(doc);
  });

  it('the diagrams are read from the machines, not written by hand', () => {
    const edges = machineEdges(paymentMachine);
    // Each guarded branch of the machine that leads somewhere is an edge, named by its guard.
    expect(edges).toContain('querying.asking --> reversing : error [queryFailedTooOften]');
    expect(edges).toContain('restoring --> waitingNetwork : always [wasWaitingForNetwork]');
    expect(edges).toContain('restoring --> reversing : always [((wasQuerying or payMaybeSent) and cancelRequested)]');
    expect(edges).toContain('payMayHaveArrived --> querying : always');
    expect(edges).toContain('reversing.asking --> reversing.backoff : done [reverseRetryLater]');
    const states = new Set(edges.flatMap((e) => e.split(' : ')[0]!.split(' --> ')));
    for (const s of ['restoring', 'submitting', 'waitingNetwork', 'querying', 'reversing', 'paid', 'declined', 'reversed', 'reversalQueued']) expect(states).toContain(s);

    const reversal = machineEdges(reversalMachine);
    expect(reversal).toContain('reversing --> refundingInstead : done [reverseRefused]');
    expect(reversal).toContain('settlingUnpaid --> confirmed : done [orderClosedUnpaid]');
    expect(reversal).toContain('refundingInstead --> deadLetter : done [refundFailed]');
  });

  it('every guarded transition of both machines is a named guard', () => {
    for (const m of [paymentMachine, reversalMachine]) for (const e of machineEdges(m)) expect(e).not.toMatch(/unnamed guard/);
  });
});
