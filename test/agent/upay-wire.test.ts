/**
 * What Shouqianba's Upay gateway receives, read off a bare HTTP server rather than our
 * simulator (which shares our signing code): the paths and JSON fields of
 * WoSai/shouqianba-doc en/api (pay.md, query.md, cancel.md, refund.md, terminal/*.md),
 * amounts as cents in strings, and `Authorization: <sn> <MD5(body + key)>` (api_guide.md)
 * checked with `openssl md5` over the bytes the server received. The terminal client's
 * answers are judged as a technician would meet them: refused, unknown, or unreadable.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpayAcquirer } from '../../agent/backend/upay/upay-acquirer.ts';
import { UpayDeviceSync } from '../../agent/backend/upay/upay-device-sync.ts';
import { provisionUpay, upayDeviceId } from '../../agent/backend/upay/upay-provision.ts';
import { readUpayTerminal, UpayTerminalClient, upayTerminalPath, writeUpayTerminal } from '../../agent/backend/upay/upay-terminal.ts';
import { ManualClock } from '../../agent/clock.ts';
import { Journal } from '../../agent/journal/journal.ts';
import { silentLogger } from '../../agent/log.ts';
import { newPayment } from '../support/new-payment.ts';

interface Seen {
  path: string;
  authorization: string;
  contentType: string;
  body: Buffer;
}

const clock = new ManualClock(Date.UTC(2026, 2, 2, 2, 0, 0));
const VENDOR = { vendorSn: '91801234', vendorKey: 'vendor-k3y', appId: '2026030200000001' };
const TERMINAL = { terminalSn: '100000330009847', terminalKey: 'term-k3y' };
let server: http.Server;
let url: string;
let seen: Seen[] = [];
/** The next answer: status and body text; null: close the connection without one. */
let answer: (path: string) => { status: number; body: string } | null;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      seen.push({ path, authorization: String(req.headers.authorization), contentType: String(req.headers['content-type']), body: Buffer.concat(chunks) });
      const a = answer(path);
      if (!a) return void req.socket.destroy();
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen = [];
  answer = () => ({ status: 200, body: '{"result_code":"200","biz_response":{"result_code":"FAIL","error_code":"UPAY_ORDER_NOT_EXISTS"}}' });
});

/** `sn md5hex` as OpenSSL computes it over the received body followed by the key. */
function opensslAuthorization(sn: string, body: Buffer, key: string): string {
  const out = execFileSync('openssl', ['md5', '-r'], { input: Buffer.concat([body, Buffer.from(key, 'utf8')]), encoding: 'utf8' });
  return `${sn} ${out.split(' ')[0]}`;
}
const json = (s: Seen) => JSON.parse(s.body.toString('utf8')) as Record<string, unknown>;
const biz = (b: Record<string, unknown>) => ({ status: 200, body: JSON.stringify({ result_code: '200', biz_response: b }) });

describe('the Upay payment requests on the wire', () => {
  const upay = (operator?: string) => new UpayAcquirer({ baseUrl: url, clock, credentials: () => TERMINAL, ...(operator ? { operator } : {}) });

  it('pay: /upay/v2/pay with cents as text, the code as dynamic_id, signed with the terminal key', async () => {
    await upay().pay({ orderNo: 'T1UPW0001', paymentCode: '134567890123456789', amount: 1205, currency: 'CNY', description: '' });
    const s = seen[0]!;
    expect(s.path).toBe('/upay/v2/pay');
    expect(s.contentType).toBe('application/json');
    expect(json(s)).toEqual({ terminal_sn: TERMINAL.terminalSn, client_sn: 'T1UPW0001', total_amount: '1205', dynamic_id: '134567890123456789', subject: 'scanpay', operator: TERMINAL.terminalSn });
    expect(s.authorization).toBe(opensslAuthorization(TERMINAL.terminalSn, s.body, TERMINAL.terminalKey));
  });

  it('pay keeps subject to 64 characters and operator to 32; the lane’s operator is named when set', async () => {
    await upay('o'.repeat(40)).pay({ orderNo: 'T1UPW0002', paymentCode: '134567890123456789', amount: 1, currency: 'CNY', description: '咖'.repeat(70) });
    expect(json(seen[0]!)).toMatchObject({ subject: '咖'.repeat(64), operator: 'o'.repeat(32), total_amount: '1' });
  });

  it('query, cancel and refund: each its path and fields, each signed', async () => {
    const a = upay('lane-3');
    await a.query({ orderNo: 'T1UPW0003' });
    await a.reverse({ orderNo: 'T1UPW0003' });
    await a.refund({ orderNo: 'T1UPW0003', refundNo: 'T1UPW0003-R0000000000000001', amount: 250 });
    expect(seen.map((s) => s.path)).toEqual(['/upay/v2/query', '/upay/v2/cancel', '/upay/v2/refund']);
    expect(seen.map(json)).toEqual([
      { terminal_sn: TERMINAL.terminalSn, client_sn: 'T1UPW0003' },
      { terminal_sn: TERMINAL.terminalSn, client_sn: 'T1UPW0003' },
      // refund_request_no is at most 20 characters (refund.md): the refund number's tail.
      { terminal_sn: TERMINAL.terminalSn, client_sn: 'T1UPW0003', refund_request_no: '03-R0000000000000001', refund_amount: '250', operator: 'lane-3' },
    ]);
    for (const s of seen) expect(s.authorization).toBe(opensslAuthorization(TERMINAL.terminalSn, s.body, TERMINAL.terminalKey));
  });

  it('signs each call with the key credentials() gives at that moment (a check-in’s new key)', async () => {
    let key = 'first';
    const a = new UpayAcquirer({ baseUrl: url, clock, credentials: () => ({ terminalSn: TERMINAL.terminalSn, terminalKey: key }) });
    await a.query({ orderNo: 'T1UPW0004' });
    key = 'second';
    await a.query({ orderNo: 'T1UPW0004' });
    expect(seen.map((s) => s.authorization)).toEqual([opensslAuthorization(TERMINAL.terminalSn, seen[0]!.body, 'first'), opensslAuthorization(TERMINAL.terminalSn, seen[1]!.body, 'second')]);
  });

  it('an answer that is not JSON is no answer (BACKEND_MALFORMED), never a failure', async () => {
    answer = () => ({ status: 200, body: '<html>gateway</html>' });
    expect(await upay().pay({ orderNo: 'T1UPW0005', paymentCode: '134567890123456789', amount: 1, currency: 'CNY' })).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_MALFORMED' } });
    answer = () => ({ status: 200, body: '{"result_code":"302"}' });
    expect(await upay().query({ orderNo: 'T1UPW0005' })).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_MALFORMED' } });
  });

  it('an answer that never comes ends at the operation’s timeout as unknown', async () => {
    const calls: string[] = [];
    const hang = http.createServer(() => undefined);
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    try {
      const a = new UpayAcquirer({ baseUrl: `http://127.0.0.1:${(hang.address() as AddressInfo).port}`, clock, credentials: () => TERMINAL, timeoutMs: { query: 300 }, onCall: (op, kind) => calls.push(`${op}:${kind}`) });
      expect(await a.query({ orderNo: 'T1UPW0006' })).toMatchObject({ kind: 'unknown', error: { code: 'BACKEND_UNKNOWN' } });
      expect(calls).toEqual(['query:unknown']);
    } finally {
      hang.closeAllConnections();
      await new Promise((resolve) => hang.close(resolve));
    }
  });
});

describe('the Upay terminal operations on the wire', () => {
  const client = () => new UpayTerminalClient(url);

  it('activate: vendor-signed, the activation code and this device, and the answer’s identity', async () => {
    answer = () => biz({ terminal_sn: '100000330009999', terminal_key: 'fresh-key' });
    expect(await client().activate(VENDOR, { code: '12345678', deviceId: 'box-1', name: 'scanpay box-1' })).toEqual({ terminalSn: '100000330009999', terminalKey: 'fresh-key' });
    const s = seen[0]!;
    expect(s.path).toBe('/terminal/activate');
    expect(json(s)).toEqual({ app_id: VENDOR.appId, code: '12345678', device_id: 'box-1', client_sn: 'box-1', name: 'scanpay box-1', os_info: `${process.platform} ${process.arch}` });
    expect(s.authorization).toBe(opensslAuthorization(VENDOR.vendorSn, s.body, VENDOR.vendorKey));
    await client().activate(VENDOR, { code: '12345678', deviceId: 'box-1' });
    expect(json(seen[1]!)).not.toHaveProperty('name');
  });

  it('activate: a refusal is CONFIG_ACTIVATION_REFUSED, a 500 or no answer is BACKEND_UNKNOWN, garbage is BACKEND_MALFORMED', async () => {
    answer = () => ({ status: 200, body: '{"result_code":"400","error_code":"ILLEGAL_CODE","error_message":"激活码错误"}' });
    await expect(client().activate(VENDOR, { code: 'x', deviceId: 'box-1' })).rejects.toMatchObject({ code: 'CONFIG_ACTIVATION_REFUSED', detail: { code: 'ILLEGAL_CODE' }, message: expect.stringContaining('ILLEGAL_CODE (激活码错误)') });
    answer = () => ({ status: 200, body: '{"result_code":"500","error_code":"UNKNOWN_SYSTEM_ERROR"}' });
    await expect(client().activate(VENDOR, { code: 'x', deviceId: 'box-1' })).rejects.toMatchObject({ code: 'BACKEND_UNKNOWN', detail: { code: 'UNKNOWN_SYSTEM_ERROR' } });
    answer = () => null;
    await expect(client().activate(VENDOR, { code: 'x', deviceId: 'box-1' })).rejects.toMatchObject({ code: 'BACKEND_UNKNOWN' });
    answer = () => ({ status: 200, body: 'not json' });
    await expect(client().activate(VENDOR, { code: 'x', deviceId: 'box-1' })).rejects.toMatchObject({ code: 'BACKEND_MALFORMED' });
    answer = () => biz({ terminal_sn: '100000330009999' });
    await expect(client().activate(VENDOR, { code: 'x', deviceId: 'box-1' })).rejects.toMatchObject({ code: 'BACKEND_MALFORMED' });
    answer = () => biz({ terminal_sn: '', terminal_key: 'k' });
    await expect(client().activate(VENDOR, { code: 'x', deviceId: 'box-1' })).rejects.toMatchObject({ code: 'BACKEND_MALFORMED' });
    answer = () => biz({ terminal_sn: 5, terminal_key: 'k' });
    await expect(client().activate(VENDOR, { code: 'x', deviceId: 'box-1' })).rejects.toMatchObject({ code: 'BACKEND_MALFORMED' });
    answer = () => biz({ terminal_sn: '1', terminal_key: 5 });
    await expect(client().activate(VENDOR, { code: 'x', deviceId: 'box-1' })).rejects.toMatchObject({ code: 'BACKEND_MALFORMED' });
    answer = () => biz({ terminal_sn: '1', terminal_key: '' });
    await expect(client().activate(VENDOR, { code: 'x', deviceId: 'box-1' })).rejects.toMatchObject({ code: 'BACKEND_MALFORMED' });
  });

  it('check-in: signed with the current key; the new key comes back; failures keep the key (CONFIG_KEY_ROTATION_FAILED)', async () => {
    answer = () => biz({ terminal_sn: TERMINAL.terminalSn, terminal_key: 'next-key' });
    expect(await client().checkin(TERMINAL, 'box-1')).toEqual({ terminalSn: TERMINAL.terminalSn, terminalKey: 'next-key' });
    const s = seen[0]!;
    expect(s.path).toBe('/terminal/checkin');
    expect(json(s)).toEqual({ terminal_sn: TERMINAL.terminalSn, device_id: 'box-1' });
    expect(s.authorization).toBe(opensslAuthorization(TERMINAL.terminalSn, s.body, TERMINAL.terminalKey));
    answer = () => biz({ terminal_sn: '999', terminal_key: 'next-key' });
    await expect(client().checkin(TERMINAL, 'box-1')).rejects.toMatchObject({ code: 'CONFIG_KEY_ROTATION_FAILED', message: expect.stringContaining('another terminal') });
    answer = () => ({ status: 200, body: '{"result_code":"400","error_code":"ILLEGAL_SIGN"}' });
    await expect(client().checkin(TERMINAL, 'box-1')).rejects.toMatchObject({ code: 'CONFIG_KEY_ROTATION_FAILED', detail: { code: 'ILLEGAL_SIGN' } });
    answer = () => null;
    await expect(client().checkin(TERMINAL, 'box-1')).rejects.toMatchObject({ code: 'CONFIG_KEY_ROTATION_FAILED' });
  });

  it('log upload: the gzip bytes as application/octet-stream, signed; only result_code 200 is accepted', async () => {
    const gz = gzipSync('{"hello":"log"}');
    answer = () => ({ status: 200, body: '{"result_code" : "200"}' });
    await client().uploadLog(TERMINAL, gz);
    const s = seen[0]!;
    expect(s.path).toBe('/terminal/uploadLog');
    expect(s.contentType).toBe('application/octet-stream');
    expect(s.body.equals(gz)).toBe(true);
    expect(s.authorization).toBe(opensslAuthorization(TERMINAL.terminalSn, s.body, TERMINAL.terminalKey));
    for (const a of [{ status: 200, body: '{"result_code":"400"}' }, { status: 503, body: '{"result_code":"200"}' }, null]) {
      answer = () => a;
      await expect(client().uploadLog(TERMINAL, gz)).rejects.toMatchObject({ code: 'BACKEND_UNKNOWN' });
    }
  });
});

describe('what the technician reads when a terminal operation fails (scanpay provision prints it, the agent logs it)', () => {
  const client = () => new UpayTerminalClient(url);

  it('no answer: names the operation and why, with the transport error as the cause', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const e = await new UpayTerminalClient(`http://127.0.0.1:${port}`).activate(VENDOR, { code: 'x', deviceId: 'box-1' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'BACKEND_UNKNOWN', message: '/terminal/activate: backend unreachable (ECONNREFUSED)', cause: { code: 'BACKEND_NOT_SENT' } });
    answer = () => null;
    await expect(client().checkin(TERMINAL, 'box-1')).rejects.toMatchObject({ code: 'CONFIG_KEY_ROTATION_FAILED', message: expect.stringMatching(/^\/terminal\/checkin: no answer to \/terminal\/checkin \(/) });
  });

  it('a refusal: the gateway’s error_code, and its error_message only when it sent one', async () => {
    answer = () => ({ status: 200, body: '{"result_code":"400","error_code":"ILLEGAL_SIGN"}' });
    await expect(client().checkin(TERMINAL, 'box-1')).rejects.toMatchObject({ message: '/terminal/checkin refused: ILLEGAL_SIGN' });
    answer = () => ({ status: 200, body: '{"result_code":"400","error_code":"ILLEGAL_CODE","error_message":"激活码错误"}' });
    await expect(client().activate(VENDOR, { code: 'x', deviceId: 'box-1' })).rejects.toMatchObject({ message: '/terminal/activate refused: ILLEGAL_CODE (激活码错误)' });
  });

  it('an unreadable answer: the operation, the parser’s reason and the HTTP status (a proxy’s error page is not Upay)', async () => {
    answer = () => ({ status: 502, body: '<html>Bad Gateway</html>' });
    const e = await client().activate(VENDOR, { code: 'x', deviceId: 'box-1' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'BACKEND_MALFORMED', message: expect.stringMatching(/^\/terminal\/activate: unreadable answer \(.*JSON/), detail: { status: 502 } });
    answer = () => biz({ terminal_key: 'k' });
    await expect(client().activate(VENDOR, { code: 'x', deviceId: 'box-1' })).rejects.toMatchObject({ code: 'BACKEND_MALFORMED', message: 'no terminal_sn/terminal_key in the answer' });
  });

  it('a log upload not accepted: the HTTP status and at most 200 characters of the answer, or the transport error', async () => {
    const page = `<html>${'x'.repeat(1_000)}</html>`;
    answer = () => ({ status: 503, body: page });
    await expect(client().uploadLog(TERMINAL, gzipSync('log'))).rejects.toMatchObject({ code: 'BACKEND_UNKNOWN', message: `log upload not accepted (HTTP 503: ${page.slice(0, 200)})` });
    answer = () => null;
    await expect(client().uploadLog(TERMINAL, gzipSync('log'))).rejects.toMatchObject({ message: expect.stringMatching(/^log upload not accepted \(no answer to \/terminal\/uploadLog \(/) });
  });
});

describe('provisioning and the daily routine against the wire', () => {
  let home: string;
  let key = 0;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'scanpay-upay-wire-'));
    key = 0;
    answer = (path) => (path === '/terminal/uploadLog' ? { status: 200, body: '{"result_code":"200"}' } : biz({ terminal_sn: '100000330001111', terminal_key: `key-${++key}` }));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));
  const provision = (over: Partial<Parameters<typeof provisionUpay>[0]> = {}) => provisionUpay({ home, backendUrl: url, activationCode: ' 12345678 \n', vendor: VENDOR, clock, ...over });

  it('activates with the trimmed code and this host’s name, checks in at once, and keeps config.json’s other settings', async () => {
    writeFileSync(join(home, 'config.json'), JSON.stringify({ lane: '3', backend: { url: 'http://old', timeoutMs: 5 } }));
    const r = await provision();
    const deviceId = hostname().replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'scanpay';
    expect(seen.map((s) => s.path)).toEqual(['/terminal/activate', '/terminal/checkin']);
    expect(json(seen[0]!)).toMatchObject({ code: '12345678', device_id: deviceId, name: `scanpay ${deviceId}` });
    expect(r).toEqual({ activated: true, record: { terminalSn: '100000330001111', terminalKey: 'key-2', previousKey: 'key-1', deviceId, backendUrl: url, activatedAt: clock.now(), checkedInAt: clock.now() } });
    expect(readUpayTerminal(home)).toEqual(r.record);
    expect(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))).toEqual({ lane: '3', backend: { url, protocol: 'upay', timeoutMs: 5 } });
    expect(statSync(join(home, 'config.json')).mode & 0o077).toBe(0);
  });

  it('again: checks in with the stored key; a key no longer accepted activates anew, another gateway too', async () => {
    const first = await provision();
    seen = [];
    const again = await provision();
    expect(seen.map((s) => s.path)).toEqual(['/terminal/checkin']);
    expect(again).toEqual({ activated: false, record: { ...first.record, terminalKey: 'key-3', previousKey: 'key-2', checkedInAt: clock.now() } });
    expect(readUpayTerminal(home)).toEqual(again.record);

    seen = [];
    const said: string[] = [];
    const refuseCheckin = answer;
    answer = (path) => (path === '/terminal/checkin' && seen.length === 1 ? { status: 200, body: '{"result_code":"400","error_code":"ILLEGAL_SIGN"}' } : refuseCheckin(path));
    expect(await provision({ say: (l) => said.push(l) })).toMatchObject({ activated: true });
    expect(seen.map((s) => s.path)).toEqual(['/terminal/checkin', '/terminal/activate', '/terminal/checkin']);
    expect(said).toEqual([expect.stringContaining('100000330001111 is no longer accepted')]);

    seen = [];
    writeUpayTerminal(home, { ...readUpayTerminal(home)!, backendUrl: 'https://other.example' });
    expect(await provision()).toMatchObject({ activated: true });
    expect(seen.map((s) => s.path)).toEqual(['/terminal/activate', '/terminal/checkin']);
  });

  it('anything but a refused key on the check-in stops provisioning with that error', async () => {
    await provision();
    answer = () => ({ status: 200, body: 'garbage' });
    await expect(provision()).rejects.toMatchObject({ code: 'BACKEND_MALFORMED' });
    // Even when activating would work: an unreadable check-in is not a refused key.
    const ok = answer;
    seen = [];
    key = 10;
    answer = (path) => (path === '/terminal/checkin' && seen.length === 1 ? { status: 200, body: 'garbage' } : biz({ terminal_sn: '100000330001111', terminal_key: `key-${++key}` }));
    await expect(provision()).rejects.toMatchObject({ code: 'BACKEND_MALFORMED' });
    expect(seen.map((s) => s.path)).toEqual(['/terminal/checkin']);
    answer = (path) => (path === '/terminal/checkin' && seen.length === 2 ? { status: 500, body: '{"result_code":"500","error_code":"UNKNOWN_SYSTEM_ERROR"}' } : ok(path));
    await expect(provision()).rejects.toMatchObject({ code: 'BACKEND_UNKNOWN' });
    expect(seen.map((s) => s.path)).toEqual(['/terminal/checkin', '/terminal/checkin']);
  });

  it('a refused stored key activates anew also when the caller has nothing to say it with', async () => {
    await provision();
    seen = [];
    const ok = answer;
    answer = (path) => (path === '/terminal/checkin' && seen.length === 1 ? { status: 200, body: '{"result_code":"400","error_code":"ILLEGAL_SIGN"}' } : ok(path));
    expect(await provision({ say: undefined })).toMatchObject({ activated: true });
    expect(seen.map((s) => s.path)).toEqual(['/terminal/checkin', '/terminal/activate', '/terminal/checkin']);
  });

  it('the device_id is the host name in the letters, digits, - and _ the identity allows, at most 32 of them, else "scanpay"', () => {
    expect(upayDeviceId('till-3.shop_1.local')).toBe('till-3shop_1local');
    expect(upayDeviceId('a'.repeat(40))).toBe('a'.repeat(32));
    expect(upayDeviceId('收银台')).toBe('scanpay');
    expect(upayDeviceId('')).toBe('scanpay');
  });

  it('refuses over unfinished payments or queued items, unless forced', async () => {
    const journal = Journal.open(join(home, 'journal.db'));
    journal.enqueue({ kind: 'report', dedupeKey: 'r1', payload: {}, at: 1 });
    journal.close();
    await expect(provision()).rejects.toMatchObject({ code: 'CONFIG_PROVISION_UNSAFE', detail: { open: 1 } });
    expect(seen).toHaveLength(0);
    const j2 = Journal.open(join(home, 'journal.db'));
    j2.createPayment(newPayment());
    j2.close();
    await expect(provision()).rejects.toMatchObject({ code: 'CONFIG_PROVISION_UNSAFE', detail: { open: 2 } });
    expect(await provision({ force: true })).toMatchObject({ activated: true });
  });

  it('an empty journal, or one whose queued items were all delivered or given up, does not stop provisioning', async () => {
    Journal.open(join(home, 'journal.db')).close();
    expect(await provision()).toMatchObject({ activated: true });
    const journal = Journal.open(join(home, 'journal.db'));
    journal.outboxDone(journal.enqueue({ kind: 'report', dedupeKey: 'r1', payload: {}, at: 1 }).id, 2);
    journal.outboxDead(journal.enqueue({ kind: 'report', dedupeKey: 'r2', payload: {}, at: 1 }).id, 2, 'gave up');
    journal.close();
    expect(await provision()).toMatchObject({ activated: false });
  });

  it('leaves the journal closed, and makes none where there was none (provisioning under sudo must not leave root-owned journal files)', async () => {
    await provision();
    expect(existsSync(join(home, 'journal.db'))).toBe(false);
    Journal.open(join(home, 'journal.db')).close();
    await provision();
    expect(readdirSync(home).filter((f) => f.startsWith('journal.db'))).toEqual(['journal.db']);
  });

  it('the stored identity: absent is none, a bad record or a readable-by-others file is CONFIG_INVALID', () => {
    expect(readUpayTerminal(home)).toBeUndefined();
    writeFileSync(upayTerminalPath(home), JSON.stringify({ terminalSn: '1', terminalKey: 'k', deviceId: 'd', backendUrl: url }), { mode: 0o600 });
    expect(() => readUpayTerminal(home)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('activatedAt') }));
    chmodSync(upayTerminalPath(home), 0o644);
    expect(() => readUpayTerminal(home)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('holds the Upay terminal key and must be readable by its owner only: chmod 600') }));
    rmSync(upayTerminalPath(home));
    mkdirSync(upayTerminalPath(home));
    expect(() => readUpayTerminal(home)).toThrow(expect.objectContaining({ code: 'EISDIR' }));
  });

  const good = { terminalSn: '100000330001111', terminalKey: 'k', deviceId: 'box-1', backendUrl: 'https://upay.example', activatedAt: 1 };
  it.each([
    ['an empty terminal_sn', { terminalSn: '' }],
    ['a terminal_sn past 32 characters', { terminalSn: '1'.repeat(33) }],
    ['an empty key', { terminalKey: '' }],
    ['a previous key that is not text', { previousKey: 5 }],
    ['an empty device id', { deviceId: '' }],
    ['a device id past 32 characters', { deviceId: 'd'.repeat(33) }],
    ['a gateway that is not text', { backendUrl: 5 }],
    ['a fractional activation time', { activatedAt: 1.5 }],
    ['a fractional check-in time', { checkedInAt: 1.5 }],
    ['a log time that is not a number', { logsUploadedAt: 'today' }],
  ])('a stored identity with %s is CONFIG_INVALID (provision again)', (_, bad) => {
    writeFileSync(upayTerminalPath(home), JSON.stringify({ ...good, ...bad }), { mode: 0o600 });
    expect(() => readUpayTerminal(home)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(Object.keys(bad)[0]!) }));
  });

  it('a stored identity at the limits is read back whole', () => {
    const full = { ...good, terminalSn: '1'.repeat(32), deviceId: 'd'.repeat(32), previousKey: 'p', checkedInAt: 2, logsUploadedAt: 3 };
    writeUpayTerminal(home, full);
    expect(readUpayTerminal(home)).toEqual(full);
  });

  it('the agent’s start runs the first round at once; without everyMs the next look is 15 minutes later', async () => {
    const record = { terminalSn: '100000330001111', terminalKey: 'key-0', deviceId: 'box-1', backendUrl: url, activatedAt: clock.now() };
    writeUpayTerminal(home, record);
    const sync = new UpayDeviceSync({ home, client: new UpayTerminalClient(url), clock, logger: silentLogger, logBundle: async () => ({ hello: 'log' }) }, record);
    sync.start();
    await sync.stop(); // waits for the round start() began
    expect(seen.map((s) => s.path)).toEqual(['/terminal/checkin', '/terminal/uploadLog']);
    expect(clock.pending).toBe(0);
    await sync.tick(); // done for today: only the next look is scheduled
    expect(seen).toHaveLength(2);
    expect(clock.nextAt()).toBe(clock.now() + 15 * 60_000);
    await sync.stop();
  });

  it('the log upload keeps a key rotated on disk meanwhile (scanpay provision while the agent runs): the newest key is never overwritten', async () => {
    const record = { terminalSn: '100000330001111', terminalKey: 'key-1', previousKey: 'key-0', deviceId: 'box-1', backendUrl: url, activatedAt: clock.now(), checkedInAt: clock.now() };
    writeUpayTerminal(home, record);
    const sync = new UpayDeviceSync({ home, client: new UpayTerminalClient(url), clock, logger: silentLogger, logBundle: async () => ({ hello: 'log' }), everyMs: 60_000 }, record);
    writeUpayTerminal(home, { ...record, terminalKey: 'key-2', previousKey: 'key-1' });
    await sync.tick();
    await sync.stop();
    expect(seen.map((s) => s.path)).toEqual(['/terminal/uploadLog']);
    expect(readUpayTerminal(home)).toEqual({ ...record, terminalKey: 'key-2', previousKey: 'key-1', logsUploadedAt: clock.now() });
    expect(sync.credentials().terminalKey).toBe('key-2');
  });

  it('the daily routine: a failed check-in keeps the key and uploads nothing; a failed upload is tried again; one of each a Beijing day', async () => {
    const record = { terminalSn: '100000330001111', terminalKey: 'key-0', deviceId: 'box-1', backendUrl: url, activatedAt: clock.now() };
    writeUpayTerminal(home, record);
    const warned: string[] = [];
    const logger = Object.assign(Object.create(silentLogger) as typeof silentLogger, { warn: (_: unknown, msg: string) => void warned.push(msg) });
    const sync = new UpayDeviceSync({ home, client: new UpayTerminalClient(url), clock, logger, logBundle: async () => ({ hello: 'log' }), everyMs: 60_000 }, record);
    const ok = answer;
    answer = () => null;
    await sync.tick();
    expect(seen.map((s) => s.path)).toEqual(['/terminal/checkin']);
    expect(sync.credentials()).toEqual({ terminalSn: record.terminalSn, terminalKey: 'key-0' });
    expect(readUpayTerminal(home)).toEqual(record);

    seen = [];
    answer = (path) => (path === '/terminal/uploadLog' ? { status: 503, body: '' } : ok(path));
    clock.advance(60_000); // the next round, on its timer
    await sync.stop();
    expect(seen.map((s) => s.path)).toEqual(['/terminal/checkin', '/terminal/uploadLog']);
    expect(sync.credentials().terminalKey).toBe('key-1');
    expect(readUpayTerminal(home)).toEqual({ ...record, terminalKey: 'key-1', previousKey: 'key-0', checkedInAt: clock.now() });
    expect(gunzipSync(seen[1]!.body).toString()).toBe('{"hello":"log"}');
    expect(seen[1]!.authorization).toBe(opensslAuthorization(record.terminalSn, seen[1]!.body, 'key-1'));
    expect(warned).toHaveLength(2);
    expect(clock.pending).toBe(0); // stopped: nothing scheduled

    seen = [];
    answer = ok;
    await sync.tick();
    expect(seen.map((s) => s.path)).toEqual(['/terminal/uploadLog']);
    expect(readUpayTerminal(home)).toMatchObject({ terminalKey: 'key-1', logsUploadedAt: clock.now() });
    await sync.stop();
    seen = [];
    await sync.tick(); // done for today: nothing to send, the next look scheduled
    expect(seen).toHaveLength(0);
    expect(clock.pending).toBe(1);
    await sync.stop();
    expect(clock.pending).toBe(0);

    clock.advance(24 * 3_600_000);
    await sync.tick();
    await sync.stop();
    expect(seen.map((s) => s.path)).toEqual(['/terminal/checkin', '/terminal/uploadLog']);
  });
});
