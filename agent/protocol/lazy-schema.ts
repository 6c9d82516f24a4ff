/**
 * A zod schema built on first use. zod builds every schema object eagerly (each with its
 * checks and methods): the protocol's ~40 message schemas cost `scanpay run` tens of
 * milliseconds and much of its start-up garbage before it is ready, though most are first
 * needed when a device operation or payment is sent. The stand-in forwards every access to
 * the schema, built once, so callers, `z.infer` and composition into other schemas are as
 * before; validation is the same schema's.
 */
export function lazySchema<T extends object>(build: () => T): T {
  let built: T | undefined;
  const schema = () => (built ??= build());
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(schema(), key),
    has: (_, key) => Reflect.has(schema(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(schema()),
    set: (_, key, value) => Reflect.set(schema(), key, value),
  });
}
