/**
 * The payment and reversal machines as Mermaid state diagrams, read from the machines
 * themselves, so that docs/payment-flow.md shows the states, transitions and guard names
 * as they are (test/agent/payment-flow-doc.test.ts compares them).
 * Regenerate the document: `npx tsx agent/payment/machine-diagram.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AnyStateMachine, StateNode } from 'xstate';
import { paymentMachine } from './payment.machine.ts';
import { reversalMachine } from './reversal.machine.ts';

type Node = StateNode<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A guard by its name: named guards, their parameterised form, and xstate's and()/or()/not() over them. */
function guardName(g: unknown): string | undefined {
  if (g === undefined) return undefined;
  if (typeof g === 'string') return g;
  const inner: unknown = typeof g === 'function' ? (g as unknown as { guards?: unknown }).guards : undefined;
  if (typeof g === 'function' && Array.isArray(inner)) {
    const parts = inner.map((x) => guardName(x) ?? '?');
    const op = g.name === 'and' ? ' and ' : g.name === 'or' ? ' or ' : undefined;
    return op ? `(${parts.join(op)})` : `not ${parts[0]}`;
  }
  if (typeof g === 'object' && g !== null && 'type' in g) return String((g as { type: unknown }).type);
  return 'unnamed guard';
}

/** Every "from --> to : on [guard]" edge of the machine, sorted, with state ids relative to the root. */
export function machineEdges(machine: AnyStateMachine): string[] {
  const rel = (n: Node) => n.id.split('.').slice(1).join('.') || '[*]';
  const edges = new Set<string>();
  const label = (event: string) => (event.startsWith('xstate.done.actor') ? 'done' : event.startsWith('xstate.error.actor') ? 'error' : event.startsWith('xstate.after') ? 'after' : event);
  const guarded = (on: string, guard: unknown) => {
    const g = guardName(guard);
    return g ? `${on} [${g}]` : on;
  };
  const visit = (n: Node) => {
    for (const [event, ts] of n.transitions) for (const t of ts) for (const to of t.target ?? []) edges.add(`${rel(n)} --> ${rel(to)} : ${guarded(label(event), t.guard)}`);
    for (const t of n.always ?? []) for (const to of t.target ?? []) edges.add(`${rel(n)} --> ${rel(to)} : ${guarded('always', t.guard)}`);
    for (const to of n.initial?.target ?? []) edges.add(`${rel(n)} --> ${rel(to)} : initial`);
    if (n.type === 'final') edges.add(`${rel(n)} --> [*] : final`);
    for (const child of Object.values(n.states)) visit(child as Node);
  };
  visit(machine.root as Node);
  return [...edges].sort();
}

export function mermaid(machine: AnyStateMachine): string {
  return ['```mermaid', 'stateDiagram-v2', ...machineEdges(machine).map((e) => `  ${e.replace(/\./g, '_')}`), '```'].join('\n');
}

/** `doc` with the diagram after each `<!-- machine: id -->` marker replaced by the named machine's. */
export function withDiagrams(doc: string, machines: Record<string, AnyStateMachine>): string {
  return doc.replace(/(<!-- machine: (\w+) -->\n)```mermaid\n[\s\S]*?```/g, (all, marker: string, id: string) => {
    const m = machines[id];
    return m ? `${marker}${mermaid(m)}` : all;
  });
}

export const FLOW_DOC = fileURLToPath(new URL('../../docs/payment-flow.md', import.meta.url));

/** The machines docs/payment-flow.md shows, by the id its markers name. */
export const FLOW_MACHINES: Record<string, AnyStateMachine> = { payment: paymentMachine, reversal: reversalMachine };

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(FLOW_DOC, withDiagrams(readFileSync(FLOW_DOC, 'utf8'), FLOW_MACHINES));
}
