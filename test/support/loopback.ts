/**
 * Test servers on a loopback port, each closed with its connections cut after every test of
 * the file that imports this (the hook registers at import), so no socket outlives its test.
 */
import type http from 'node:http';
import type https from 'node:https';
import { afterEach } from 'vitest';

type Closable = http.Server | https.Server;

const open: Closable[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
});

/** Listens on 127.0.0.1, a free port; `server.address()` has it once this resolves. */
export async function listenOnLoopback(server: Closable): Promise<void> {
  open.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
}

/** The server listened on last in this test, e.g. to count its connections. */
export function newestServer(): Closable {
  const s = open.at(-1);
  if (!s) throw new Error('no loopback server is open');
  return s;
}

/** Closes the server listened on last (the gateway goes away); its connections stay until they end. */
export async function closeNewest(): Promise<void> {
  const s = open.pop();
  if (!s) throw new Error('no loopback server is open');
  await new Promise((r) => s.close(r));
}
