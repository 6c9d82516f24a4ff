/**
 * `npx tsx bench/http-client-cost.ts [calls] [rounds]`: CPU and wall time a kept-alive POST
 * costs through protocol v1's transport (agent/backend/protocol-http.ts, node:http with its
 * deadline, cap and failure tracking) against a bare `http.request` on the same kind of
 * pool, and through the axios client the other acquirers keep (agent/backend/axios-http.ts),
 * alternating, against a bare node server in another process (docs/performance.md,
 * "Throughput": the axios bullet).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { createAxiosHttp } from '../agent/backend/axios-http.ts';
import { IDLE_SOCKET_MS, keptAliveAgents, keptAliveOptions, MAX_SOCKETS } from '../agent/backend/gateway-pool.ts';
import { createProtocolHttp } from '../agent/backend/protocol-http.ts';

const calls = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 3);
const SERVER = `const body = JSON.stringify({ result: 'SUCCESS', trade: { orderNo: 'x'.repeat(30), amount: 100 }, nonce: 'n'.repeat(32) });
require('node:http').createServer((req, res) => { req.resume(); req.on('end', () => { res.setHeader('content-type', 'application/json'); res.end(body); }); })
  .listen(0, '127.0.0.1', function () { process.stdout.write(this.address().port + '\\n'); });`;
const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<number>((r) => server.stdout.once('data', (d) => r(Number(String(d).trim()))));
const base = `http://127.0.0.1:${port}`;
const payload = Buffer.from(JSON.stringify({ orderNo: 'x'.repeat(30), paymentCode: '134567890123456789', amount: 100, currency: 'CNY', description: '', traceId: 't'.repeat(32) }));
const headers = { 'content-type': 'application/json', 'x-signature': 'a'.repeat(64) };

const transport = createProtocolHttp(base, keptAliveAgents(IDLE_SOCKET_MS, MAX_SOCKETS));
const viaTransport = async () => void (await transport.post('/v1/pay', payload, { headers, deadlineMs: 5_000 }));
const axiosClient = createAxiosHttp(base, keptAliveAgents(IDLE_SOCKET_MS, MAX_SOCKETS));
const viaAxios = async () => void (await axiosClient.post('/v1/pay', payload, { headers, timeout: 5_000 }));
const agent = new http.Agent(keptAliveOptions(IDLE_SOCKET_MS, MAX_SOCKETS));
const viaHttp = () =>
  new Promise<void>((resolve, reject) => {
    const req = http.request(`${base}/v1/pay`, { method: 'POST', agent, headers: { ...headers, 'content-length': payload.length }, signal: AbortSignal.timeout(5_000) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(void Buffer.concat(chunks)));
    });
    req.on('error', reject);
    req.end(payload);
  });

async function run(f: () => Promise<void>, n: number): Promise<{ cpuMs: number; wallMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  const c = process.cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000 / n, wallMs: (performance.now() - t0) / n };
}

try {
  for (const f of [viaTransport, viaHttp, viaAxios]) await run(f, 500); // warm-up: JIT, sockets open
  for (let round = 1; round <= rounds; round++) {
    for (const [name, f] of [['v1 transport (node:http)', viaTransport], ['bare http.request', viaHttp], ['axios client (other acquirers)', viaAxios]] as const) {
      const r = await run(f, calls);
      process.stdout.write(`round ${round}, ${name}: ${r.cpuMs.toFixed(3)} ms CPU a call, ${r.wallMs.toFixed(3)} ms wall\n`);
    }
  }
} finally {
  server.kill();
  agent.destroy();
}
