/**
 * The payment machine as a Mermaid state diagram, read from the machine itself, so that
 * docs/payment-flow.md shows the states and transitions as they are (a test compares them).
 */
import type { AnyStateMachine, StateNode } from 'xstate';

type Node = StateNode<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every "from --> to : on" edge of the machine, sorted, with state ids relative to the root. */
export function machineEdges(machine: AnyStateMachine): string[] {
  const rel = (n: Node) => n.id.split('.').slice(1).join('.') || '[*]';
  const edges = new Set<string>();
  const visit = (n: Node) => {
    const label = (event: string) => (event.startsWith('xstate.done.actor') ? 'done' : event.startsWith('xstate.error.actor') ? 'error' : event.startsWith('xstate.after') ? 'after' : event);
    for (const [event, ts] of n.transitions) for (const t of ts) for (const to of t.target ?? []) edges.add(`${rel(n)} --> ${rel(to)} : ${label(event)}`);
    for (const t of n.always ?? []) for (const to of t.target ?? []) edges.add(`${rel(n)} --> ${rel(to)} : always`);
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
