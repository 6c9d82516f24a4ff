/**
 * What a user types, as child processes: `scanpay run --demo --protocol wechat-v2` and
 * `scanpay pay 12.34 --demo-customer instant` (PAID, exit 0, charged once in the embedded
 * WeChat simulator); `scanpay sim backend --protocol wechat-v3` answering the v3 adapter.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAgentFile } from '../../agent/agent-file.ts';
import { ManualClock } from '../../agent/clock.ts';
import { loadWechatCredentials } from '../../agent/backend/wechat/credentials.ts';
import { WechatV3Acquirer } from '../../agent/backend/wechat/wechat-v3-acquirer.ts';
import { controlRequest } from '../../simulator/backend/wechat/control-client.ts';
import { DEMO_FILES, demoWechatConfig } from '../../simulator/backend/wechat/demo-merchant.ts';
import { cliProcesses, lineMatching, linesUntil } from '../support/cli-process.ts';

const procs = cliProcesses();
const homes: string[] = [];

afterAll(() => {
  procs.killAll();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const tempHome = () => {
  const h = mkdtempSync(join(tmpdir(), 'scanpay-wechat-'));
  homes.push(h);
  return h;
};

describe('scanpay with WeChat Pay, as processes', () => {
  it('run --demo --protocol wechat-v2, then pay 12.34 --demo-customer instant: PAID, exit 0, charged once', async () => {
    const home = tempHome();
    const daemon = procs.spawn(home, ['run', '--demo', '--protocol', 'wechat-v2', '--port', '0']);
    const backendLine = await lineMatching(daemon, /^backend:/);
    expect(backendLine).toMatch(/https:\/\/127\.0\.0\.1:\d+ \(embedded simulator/);
    const paid = await procs.run(home, ['pay', '12.34', '--demo-customer', 'instant']);
    expect(paid.stdout).toMatch(/^PAID 12\.34 CNY/m);
    expect(paid.status).toBe(0);
    const simulatorUrl = readAgentFile(home)!.simulatorUrl!;
    const ledger = await controlRequest<{ entries: Array<{ kind: string; amount: number }> }>(`${simulatorUrl}/control/ledger`, 'GET');
    expect(ledger.data.entries.filter((e) => e.kind === 'charge').map((e) => e.amount)).toEqual([1234]);
    const calls = await controlRequest<{ calls: Array<{ op: string; error?: string }> }>(`${simulatorUrl}/control/calls`, 'GET');
    expect(calls.data.calls.filter((c) => c.op === 'pay' && !c.error)).toHaveLength(1);
    // The demo merchant's client certificate was minted for this home, from the simulator's CA.
    const minted = join(home, 'wechat-demo', 'apiclient_cert.pem');
    expect(execFileSync('openssl', ['verify', '-CAfile', DEMO_FILES.ca, minted]).toString().trim()).toBe(`${minted}: OK`);
    daemon.kill('SIGTERM');
  }, 60_000);

  it('sim backend --protocol wechat-v2 --issue-client-cert DIR: the printed provision line sets a device up, and doctor passes', async () => {
    const home = tempHome();
    const certs = join(home, 'certs');
    const sim = procs.spawn(home, ['sim', 'backend', '--protocol', 'wechat-v2', '--port', '0', '--memory', '--issue-client-cert', certs]);
    const lines = await linesUntil(sim, /^press Ctrl-C/);
    const p12 = join(certs, 'apiclient_cert.p12');
    expect(lines.find((l) => l.startsWith('client certificate of merchant 10000100:'))).toContain(p12);
    expect(execFileSync('openssl', ['verify', '-CAfile', DEMO_FILES.ca, join(certs, 'apiclient_cert.pem')]).toString()).toMatch(/: OK$/m);
    expect(execFileSync('openssl', ['x509', '-in', join(certs, 'apiclient_cert.pem'), '-noout', '-subject', '-nameopt', 'RFC2253']).toString()).toMatch(/CN=10000100$/m);

    // The line as printed: NODE_EXTRA_CA_CERTS=… npx scanpay provision …
    const line = lines.find((l) => l.startsWith('provision a device with it:'))!.replace(/^provision a device with it:\s+/, '');
    const [env, npx, scanpay, ...args] = line.split(' ');
    expect([npx, scanpay]).toEqual(['npx', 'scanpay']);
    expect(args).toEqual(expect.arrayContaining(['--client-cert', p12]));
    const device = tempHome();
    const withCa = cliProcesses({ env: { NODE_EXTRA_CA_CERTS: env!.replace(/^NODE_EXTRA_CA_CERTS=/, '') } });
    try {
      const provisioned = await withCa.run(device, [...args, '--no-test-scan']);
      expect(provisioned.status, provisioned.stderr).toBe(0);
      const doctor = await withCa.run(device, ['doctor']);
      expect(doctor.stdout).toMatch(/PASS {2}wechat credentials {2}merchant 10000100.*valid until/);
      expect(doctor.stdout).toMatch(/PASS {2}signature round trip/);
    } finally {
      withCa.killAll();
      sim.kill('SIGTERM');
    }
  }, 120_000);

  it('sim backend --protocol wechat-v3 serves codepay over HTTPS', async () => {
    const home = tempHome();
    const sim = procs.spawn(home, ['sim', 'backend', '--protocol', 'wechat-v3', '--port', '0']);
    const url = /(https:\/\/127\.0\.0\.1:\d+)/.exec(await lineMatching(sim, /listening on https:/))![1]!;
    const code = (await controlRequest<{ code: string }>(`${url}/control/codes`, 'POST', { wallet: 'wechat', behaviour: { kind: 'instant' } })).data.code;
    const acquirer = new WechatV3Acquirer({ baseUrl: url, credentials: loadWechatCredentials('wechat-v3', demoWechatConfig('wechat-v3'), false), clock: new ManualClock(Date.now()), terminalId: 'T1' });
    const r = await acquirer.pay({ orderNo: 'PROC000001', paymentCode: code, amount: 99, currency: 'CNY' });
    expect(r).toMatchObject({ kind: 'answer', body: { result: 'SUCCESS', trade: { amount: 99 } } });
    sim.kill('SIGTERM');
  }, 60_000);
});
