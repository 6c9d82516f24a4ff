import { fromPromise } from 'xstate';

/** A machine's stand-in for an actor the engine provides: fails loudly if it was not. */
export function unprovided<T>(machine: string, name: string) {
  return fromPromise<T, { orderNo: string }>(async () => {
    throw new Error(`${machine} machine: actor "${name}" was not provided`);
  });
}
