/**
 * `scanpay doctor`: one small function per check, each answering pass, warn or fail with
 * a one-line fix. Everything that touches the machine (device nodes, scanners, disk, TLS,
 * native modules, the running agent) comes in through DoctorDeps, so tests can fake a
 * missing device or a skewed clock; the backend is always called for real.
 */
import { constants, existsSync, statSync } from 'node:fs';
import { accessSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DeviceClient } from './backend/device-client.ts';
import { isLoopback } from './loopback.ts';
import { acquirerChecks } from './backend/acquirer-doctor.ts';
import type { Clock } from './clock.ts';
import { loadConfig, type AgentConfig } from './config.ts';
import { SKEW_WARN_MS } from './device-sync.ts';
import { isScanpayError } from './errors.ts';
import { Journal } from './journal/journal.ts';
import { DEFAULT_DEVICE_PARAMS, loadParams } from './params.ts';
import { keyFingerprint, readTerminalRecord, terminalPath, type TerminalRecord } from './terminal-store.ts';
import { AGENT_VERSION } from './version.ts';
import { loadWechatCredentials, subjectCn, type WechatConfig } from './backend/wechat/credentials.ts';
import { inspectJournalIdentity } from './journal-guard.ts';
import { alarmCounts } from './payment/payment-alarms.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warn or fail; absent on a pass. */
  fix?: string;
}

export type NativeModule = 'better-sqlite3' | 'serialport' | 'node-hid';

export interface DoctorDeps {
  home: string;
  clock: Clock;
  /** Device nodes scanners appear as on this machine (ttyACM*, ttyUSB*, hidraw*), full paths. */
  deviceNodes(): string[];
  /** Opens a SOURCE and closes it again; rejects with a ScanpayError saying why not. */
  openSource(spec: string): Promise<void>;
  /** The running agent's scanner statuses, or undefined when no agent runs on this home (its devices are then free to open). */
  agentScanners(): Promise<Array<{ source: string; status: string }> | undefined>;
  /** The running agent's device alarms in cashier words, or undefined when no agent runs on this home. */
  agentAlarms?(): Promise<string[] | undefined>;
  /** Bytes available to this user on the filesystem holding `path`. */
  freeBytes(path: string): number;
  /** The backend's certificate as a TLS handshake presents it. */
  tlsCertificate(url: URL): Promise<{ validTo: number; authorized: boolean; error?: string }>;
  /** Loads the module's native binding; throws what loading throws. */
  loadNative(name: NativeModule): void;
  /** Turns a native-module load failure into the exact install instruction. */
  nativeFix(name: NativeModule, e: unknown): string;
  /** System programs and libraries the drivers call that are missing here (what `scanpay scanners` reports), each with the install instruction. */
  missingSystemPieces(): Promise<Array<{ piece: SystemPiece; fix: string }>>;
}

/** udevadm: serial listing, hence `serial:usb=VID:PID` specs; libusb: every `hid:` scanner. */
export type SystemPiece = 'udevadm' | 'libusb';

const DISK_FAIL_BYTES = 100 * 2 ** 20;
const DISK_WARN_BYTES = 1024 * 2 ** 20;
/** Beyond this the protocol refuses every signed message (docs/protocol.md, "Signing"). */
const SKEW_REFUSED_MS = 5 * 60_000;
const QUEUE_OLD_MS = 10 * 60_000;
const CERT_WARN_MS = 14 * 24 * 3600_000;

const pass = (name: string, detail: string): Check => ({ name, status: 'pass', detail });
const warn = (name: string, detail: string, fix: string): Check => ({ name, status: 'warn', detail, fix });
const fail = (name: string, detail: string, fix: string): Check => ({ name, status: 'fail', detail, fix });
const messageOf = (e: unknown) => (isScanpayError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e));
const ago = (ms: number) => (ms < 120_000 ? `${Math.round(ms / 1000)} s` : ms < 2 * 3600_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 3600_000)} h`);

/** What several checks share, read once. */
interface Context {
  deps: DoctorDeps;
  config: AgentConfig | undefined;
  record: TerminalRecord | undefined;
  journalPath: string;
  /** Specs of every configured scanner. */
  sources: string[];
  /** Ids of configured lanes that have no scanner at all. */
  bareLanes: string[];
}

function checkConfig(home: string): { check: Check; config: AgentConfig | undefined } {
  try {
    const config = loadConfig(home);
    if (!config.backend.url) return { config, check: fail('configuration', 'no backend.url in config.json', 'scanpay provision --backend URL --activation-code CODE') };
    return { config, check: pass('configuration', `${join(home, 'config.json')} valid; backend ${config.backend.url}`) };
  } catch (e) {
    return { config: undefined, check: fail('configuration', messageOf(e), `fix the field named, or move ${join(home, 'config.json')} away to use the defaults`) };
  }
}

const isWechat = (c: Context) => c.config?.backend.protocol === 'wechat-v2' || c.config?.backend.protocol === 'wechat-v3';

/** WeChat Pay: every credential file loads as the agent will load it; the certificate is not about to expire. */
function checkWechat(c: Context): Check {
  const protocol = c.config!.backend.protocol as 'wechat-v2' | 'wechat-v3';
  const wechat = c.config!.backend.wechat as WechatConfig | undefined;
  if (!wechat) return fail('wechat credentials', 'config.json has no backend.wechat section', `scanpay provision --protocol ${protocol} --app-id … --mch-id … (docs/acquirers/wechat.md)`);
  const creds = loadWechatCredentials(protocol, wechat, true);
  const cert = creds.clientCert?.().cert;
  const who = `merchant ${creds.mchId}, app ${creds.appId}`;
  if (!cert) return pass('wechat credentials', `${who}; v3 signing key serial ${creds.serialNo}, platform certificate(s) ${[...(creds.platformCerts?.keys() ?? [])].join(', ')}`);
  // v2's /secapi/ certificate is issued to the merchant number (its subject CN): another merchant's is refused there.
  const owner = subjectCn(cert);
  if (protocol === 'wechat-v2' && owner !== creds.mchId) return fail('wechat credentials', `${who}; the merchant API certificate is issued to ${owner ? `merchant ${owner}` : cert.subject.replace(/\n/g, ', ')}, not ${creds.mchId}`, `use the certificate of merchant ${creds.mchId}: scanpay provision --protocol ${protocol} --client-cert FILE …`);
  const left = Date.parse(cert.validTo) - c.deps.clock.now();
  const fix = `download a new merchant API certificate from the merchant platform and run scanpay provision --protocol ${protocol} --client-cert FILE …`;
  if (left <= 0) return fail('wechat credentials', `${who}; the merchant API certificate expired on ${cert.validTo}: reversals and refunds cannot be sent`, fix);
  if (left < 30 * 86_400_000) return warn('wechat credentials', `${who}; the merchant API certificate expires on ${cert.validTo} (${Math.floor(left / 86_400_000)} days)`, fix);
  return pass('wechat credentials', `${who}; merchant API certificate valid until ${cert.validTo}`);
}

function checkTerminal(c: Context): Check {
  const protocol = c.config?.backend.protocol;
  if (protocol === 'wechat-v2' || protocol === 'wechat-v3') return pass('terminal identity', 'not needed: WeChat Pay knows the merchant by its credentials');
  const path = terminalPath(c.deps.home);
  if (!c.record) return fail('terminal identity', `no ${path}`, 'scanpay provision --backend URL --activation-code CODE');
  const mode = statSync(path).mode & 0o777;
  const who = `terminal ${c.record.terminalId}, merchant ${c.record.merchantId}, key v${c.record.keyVersion} (${keyFingerprint(Buffer.from(c.record.key, 'base64'))})`;
  if (mode & 0o077) return fail('terminal identity', `${who}; ${path} is mode ${mode.toString(8)}: others can read the key`, `chmod 600 ${path}`);
  return pass('terminal identity', `${who}; ${path} is owner-only`);
}

function checkDatabase(c: Context): Check {
  if (!existsSync(c.journalPath)) return warn('database integrity', `no journal yet at ${c.journalPath}`, 'it is created when `scanpay run` first starts');
  let db: Database.Database | undefined;
  try {
    // Read-only: the doctor must not migrate, checkpoint or otherwise change the journal a running agent holds.
    db = new Database(c.journalPath, { readonly: true, fileMustExist: true });
    const result = db.pragma('integrity_check', { simple: true });
    if (result !== 'ok') return fail('database integrity', `integrity_check: ${String(result)}`, `stop the agent, keep ${c.journalPath} for support, and do not delete it`);
    return pass('database integrity', `${c.journalPath}: integrity_check ok`);
  } catch (e) {
    return fail('database integrity', messageOf(e), `check the permissions of ${c.journalPath}; keep the file for support`);
  } finally {
    db?.close();
  }
}

/** Issue 12: the journal is the one this device recorded its payments in (agent/journal-guard.ts). */
function checkJournalIdentity(c: Context): Check {
  const r = inspectJournalIdentity(c.deps.home, c.journalPath);
  return r.ok ? pass('journal identity', r.detail) : fail('journal identity', r.detail, 'stop the agent, keep every file, run `scanpay recover` (docs/payment-flow.md, "Faults of the device")');
}

function checkDisk(c: Context): Check {
  const free = c.deps.freeBytes(c.deps.home);
  const detail = `${(free / 2 ** 20).toFixed(0)} MiB free under ${c.deps.home}`;
  if (free < DISK_FAIL_BYTES) return fail('free disk', detail, 'free space now: the journal refuses new payments when it cannot write');
  if (free < DISK_WARN_BYTES) return warn('free disk', detail, 'free some space (old logs, reports) before it runs out');
  return pass('free disk', detail);
}

/** Issue 12: the journal's size cap (`journalMaxBytes`); past it every write fails with SQLITE_FULL and nothing moves. */
function checkJournalSpace(c: Context): Check {
  const max = c.config?.journalMaxBytes;
  if (max === undefined || !existsSync(c.journalPath)) return pass('journal space', 'no journal yet, or no size cap configured');
  const db = new Database(c.journalPath, { readonly: true, fileMustExist: true });
  let used: number;
  try {
    const page = db.pragma('page_size', { simple: true }) as number;
    used = ((db.pragma('page_count', { simple: true }) as number) - (db.pragma('freelist_count', { simple: true }) as number)) * page;
  } finally {
    db.close();
  }
  const detail = `${(used / 2 ** 20).toFixed(1)} MiB of the ${(max / 2 ** 20).toFixed(1)} MiB cap (journalMaxBytes) in use`;
  const fix = 'settle and export old payments, or raise journalMaxBytes in config.json if the disk has room; nothing recorded is lost';
  if (used >= max * 0.95) return fail('journal space', `${detail}: payments cannot be saved`, fix);
  if (used >= max * 0.8) return warn('journal space', detail, fix);
  return pass('journal space', detail);
}

/** Issue 12: faults that leave a customer possibly charged, from the journal, and what the running agent reports. */
async function checkDeviceAlarms(c: Context): Promise<Check> {
  // A running agent says it all (the same journal, plus its clock and a write failure only it sees).
  const fromAgent = await c.deps.agentAlarms?.();
  const counts = fromAgent ? undefined : withJournal(c, (j) => alarmCounts(j));
  const found = fromAgent ?? [
    ...(counts?.follow_up_overdue ? [`${counts.follow_up_overdue} reversal(s) or refund(s) past their maximum age, still being tried (PAY_FOLLOW_UP_OVERDUE)`] : []),
    ...(counts?.order_forgotten ? [`${counts.order_forgotten} payment(s) whose acknowledged order the acquirer no longer knows (BACKEND_ORDER_FORGOTTEN)`] : []),
  ];
  if (found.length === 0) return pass('device alarms', 'none');
  return fail('device alarms', found.join('; '), 'scanpay payments and scanpay queue show the payments concerned; docs/payment-flow.md, "Faults of the device", says what each needs');
}

type Probe = { ok: true; latencyMs: number; skewMs: number } | { ok: false; error: unknown };

/**
 * One signed heartbeat: whether the backend answers, how fast, its clock, and that its
 * signed answer verifies. It reports the device's real queue, so it is a true heartbeat.
 */
async function probeBackend(c: Context, url: string, record: TerminalRecord): Promise<Probe> {
  const client = new DeviceClient({ baseUrl: url, clock: c.deps.clock, timeoutMs: 5_000, credentials: () => ({ terminalId: record.terminalId, key: Buffer.from(record.key, 'base64') }) });
  const queue = withJournal(c, (j) => ({ queueDepth: j.outbox('pending').length, deadLetters: j.outbox('dead').length })) ?? { queueDepth: 0, deadLetters: 0 };
  const sentAt = c.deps.clock.now();
  try {
    const { body, latencyMs } = await client.call('heartbeat', {
      agentVersion: AGENT_VERSION,
      clock: sentAt,
      paramsVersion: (loadParams(c.deps.home) ?? DEFAULT_DEVICE_PARAMS).version,
      // The doctor does not hold the scanners; the agent's next heartbeat reports their state.
      scanners: c.sources.slice(0, 16).map((s) => ({ source: s.slice(0, 128), status: 'unchecked' })),
      ...queue,
    });
    return { ok: true, latencyMs, skewMs: Math.round((sentAt + c.deps.clock.now()) / 2 - body.serverTime) };
  } catch (error) {
    return { ok: false, error };
  }
}

function checkReachable(url: string, p: Probe): Check {
  if (p.ok) return pass('backend reachable', `${url} answered in ${p.latencyMs} ms`);
  if (isScanpayError(p.error, 'BACKEND_NOT_SENT') || isScanpayError(p.error, 'BACKEND_UNKNOWN')) {
    return fail('backend reachable', messageOf(p.error), `check the network and that ${url} is up (curl -v ${url}); payments wait in the queue meanwhile`);
  }
  // It answers but refuses this terminal: reachable is no comfort when no payment can go through.
  if (isScanpayError(p.error, 'BACKEND_HTTP_STATUS') && (p.error.detail?.status === 401 || p.error.detail?.status === 403)) {
    return fail('backend reachable', `${url} answers but refuses this terminal (${messageOf(p.error)})`, 'scanpay provision --force with a new activation code from the acquirer');
  }
  // It answered, if not happily: the other checks say what is wrong.
  return pass('backend reachable', `${url} answers (${messageOf(p.error)})`);
}

function checkSkew(p: Probe): Check {
  const fix = 'enable NTP: timedatectl set-ntp true (and check: timedatectl status)';
  const skewMs = p.ok ? p.skewMs : isScanpayError(p.error, 'PROTO_TIMESTAMP_SKEW') ? (p.error.detail?.skewMs as number | undefined) : undefined;
  if (skewMs === undefined) return warn('clock skew', `not measured: ${messageOf((p as { error: unknown }).error)}`, 'measured once the backend answers');
  const detail = `device clock ${skewMs > 0 ? 'ahead of' : skewMs < 0 ? 'behind' : 'in step with'} the backend${skewMs ? ` by ${(Math.abs(skewMs) / 1000).toFixed(1)} s` : ''}`;
  if (Math.abs(skewMs) >= SKEW_REFUSED_MS || !p.ok) return fail('clock skew', `${detail}: the backend refuses signed messages`, fix);
  if (Math.abs(skewMs) > SKEW_WARN_MS) return warn('clock skew', `${detail} (signatures fail beyond 5 min)`, fix);
  return pass('clock skew', detail);
}

function checkSignature(p: Probe): Check {
  if (p.ok) return pass('signature round trip', 'signed heartbeat accepted; the signed answer verified with the terminal key');
  const e = p.error;
  if (isScanpayError(e, 'BACKEND_SIGNATURE_INVALID')) return fail('signature round trip', messageOf(e), 'the backend signs with another key: re-provision (scanpay provision --force) or ask the acquirer');
  if (isScanpayError(e, 'BACKEND_HTTP_STATUS') && e.detail?.status === 401) return fail('signature round trip', messageOf(e), 'the backend no longer accepts this key: scanpay provision --force with a new activation code');
  if (isScanpayError(e, 'PROTO_TIMESTAMP_SKEW')) return fail('signature round trip', messageOf(e), 'fix the clock first (see clock skew)');
  return warn('signature round trip', `not tested: ${messageOf(e)}`, 'tested once the backend answers');
}

async function checkTls(c: Context, url: URL): Promise<Check> {
  if (url.protocol === 'http:') {
    if (isLoopback(url.hostname)) return warn('TLS', `plain HTTP to ${url.host}, on this machine only (a local TLS proxy or the simulator)`, 'use the acquirer\'s https:// URL in production');
    const allowed = c.config?.backend.allowInsecureHttp ? ' (allowed by backend.allowInsecureHttp)' : '';
    return fail('TLS', `plain HTTP to ${url.host}${allowed}: payment codes and the activation exchange travel in clear`, 'use the acquirer\'s https:// URL');
  }
  try {
    const cert = await c.deps.tlsCertificate(url);
    const left = cert.validTo - c.deps.clock.now();
    const until = new Date(cert.validTo).toISOString().slice(0, 10);
    if (!cert.authorized) return fail('TLS', `certificate of ${url.host} not trusted: ${cert.error ?? 'unknown reason'}`, 'install the acquirer\'s CA (NODE_EXTRA_CA_CERTS) or fix the server certificate');
    if (left <= 0) return fail('TLS', `certificate of ${url.host} expired on ${until}`, 'the acquirer must renew its certificate');
    if (left < CERT_WARN_MS) return warn('TLS', `certificate of ${url.host} expires on ${until}`, 'tell the acquirer: it must be renewed soon');
    return pass('TLS', `certificate of ${url.host} trusted, valid until ${until}`);
  } catch (e) {
    return fail('TLS', `handshake with ${url.host} failed: ${messageOf(e)}`, `check the URL and the network (openssl s_client -connect ${url.host})`);
  }
}

async function backendChecks(c: Context): Promise<Check[]> {
  const url = c.config?.backend.url ?? c.record?.backendUrl;
  const protocol = c.config?.backend.protocol;
  // WeChat has no heartbeat to probe: its TLS, and the credentials check above, are what can be checked without paying.
  if (url && (protocol === 'wechat-v2' || protocol === 'wechat-v3')) return [await checkTls(c, new URL(url))];
  const names = ['backend reachable', 'TLS', 'clock skew', 'signature round trip'];
  if (!url || !c.record) return names.map((n) => fail(n, 'not checked: this device is not provisioned', 'scanpay provision --backend URL --activation-code CODE'));
  const [probe, tls] = await Promise.all([probeBackend(c, url, c.record), checkTls(c, new URL(url))]);
  return [checkReachable(url, probe), tls, checkSkew(probe), checkSignature(probe)];
}

const OPEN_TIMEOUT_MS = 3_000;

async function checkScanners(c: Context): Promise<Check> {
  const bare = c.bareLanes.map((l) => `lane ${l} has no scanner (nothing can be scanned there; only a POS sending the code can pay)`).join('; ');
  const setFix = `scanpay scanners lists SOURCE specs, then scanpay scanners set ${c.bareLanes[0] ?? '1'} SOURCE`;
  if (c.sources.length === 0) return warn('scanner present', bare || 'no scanner configured', setFix);
  const withBare = (check: Check): Check => (bare && check.status === 'pass' ? warn(check.name, `${check.detail}; ${bare}`, setFix) : bare ? { ...check, detail: `${check.detail}; ${bare}` } : check);
  return withBare(await checkConfiguredScanners(c));
}

async function checkConfiguredScanners(c: Context): Promise<Check> {
  const running = await c.deps.agentScanners();
  if (running) {
    // The agent holds the devices (serial ports are locked): ask it instead of opening them.
    const down = running.filter((s) => s.status !== 'connected');
    const detail = running.map((s) => `${s.source} ${s.status}`).join('; ');
    return down.length ? fail('scanner present', `agent reports: ${detail}`, 'check the cable and power; `scanpay scanners` lists what is plugged in') : pass('scanner present', `agent reports: ${detail}`);
  }
  const problems: string[] = [];
  for (const spec of c.sources) {
    try {
      await withTimeout(c.deps.openSource(spec), OPEN_TIMEOUT_MS, `${spec} did not open within ${OPEN_TIMEOUT_MS / 1000} s`);
    } catch (e) {
      problems.push(`${spec}: ${messageOf(e)}`);
    }
  }
  if (problems.length) return fail('scanner present', problems.join('; '), 'plug the scanner in, or fix lanes[].scanners in config.json (`scanpay scanners` lists SOURCE specs)');
  return pass('scanner present', `${c.sources.join(', ')} opened`);
}

/** A payment starts with a scan, so the newest payment in the journal is the last scan the agent acted on. */
function checkLastScan(c: Context): Check {
  const last = withJournal(c, (j) => j.listPayments({ limit: 1 })[0]?.created_at);
  if (last === undefined) return warn('last scan', 'no scan recorded yet', 'scan a code: scanpay scanners listen SOURCE shows what the scanner sends');
  return pass('last scan', `last payment code scanned ${ago(c.deps.clock.now() - last)} ago (${new Date(last).toISOString()})`);
}

function checkQueue(c: Context): Check {
  const pending = withJournal(c, (j) => j.outbox('pending')) ?? [];
  if (pending.length === 0) return pass('queue', 'nothing waiting');
  const oldest = Math.min(...pending.map((p) => p.created_at));
  const age = c.deps.clock.now() - oldest;
  const detail = `${pending.length} waiting, oldest since ${ago(age)}`;
  if (age > QUEUE_OLD_MS) return warn('queue', detail, 'scanpay queue shows why; the agent retries on its own once the backend answers');
  return pass('queue', detail);
}

function checkDeadLetters(c: Context): Check {
  const dead = withJournal(c, (j) => j.outbox('dead')) ?? [];
  if (dead.length === 0) return pass('dead letters', 'none');
  return fail('dead letters', `${dead.length} item(s) gave up, e.g. #${dead[0]!.id} ${dead[0]!.kind}: ${dead[0]!.last_error ?? ''}`, 'scanpay queue lists them; fix the cause, then scanpay queue retry --all');
}

const RULES = 'copy docs/deploy/99-scanpay-scanners.rules to /etc/udev/rules.d/, add the user to group scanpay, then udevadm control --reload && udevadm trigger';

function checkPermissions(c: Context): Check {
  const configured = c.sources.map((s) => /^serial:(\/[^?]*)/.exec(s)?.[1]).filter((p): p is string => p !== undefined);
  const nodes = [...new Set([...configured, ...c.deps.deviceNodes()])];
  if (nodes.length === 0) return pass('device permissions', 'no ttyACM, ttyUSB or hidraw device present');
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const node of nodes) {
    const problem = nodeProblem(node);
    if (problem) (configured.includes(node) ? failures : warnings).push(`${node} ${problem}`);
  }
  if (failures.length) return fail('device permissions', failures.concat(warnings).join('; '), `plug the scanner in or fix lanes[].scanners; if it is there: ${RULES}`);
  if (warnings.length) return warn('device permissions', warnings.join('; '), RULES);
  return pass('device permissions', `${nodes.join(', ')} readable and writable by this user`);
}

function nodeProblem(node: string): string | undefined {
  let st;
  try {
    st = statSync(node);
  } catch {
    return 'does not exist';
  }
  if (!st.isCharacterDevice()) return 'is not a device node';
  try {
    accessSync(node, constants.R_OK | constants.W_OK);
    return undefined;
  } catch {
    return 'cannot be opened by this user';
  }
}

/**
 * The native modules and the system pieces the drivers call, judged as `scanpay scanners`
 * meets them: missing and needed by a configured scanner is a failure; missing and not
 * needed is a warning (listing devices still fails without it), never a pass.
 */
async function checkNative(c: Context): Promise<Check> {
  const schemes = new Set(c.sources.map((s) => s.slice(0, s.indexOf(':'))));
  const needed: Record<NativeModule | SystemPiece, boolean> = {
    'better-sqlite3': true,
    serialport: schemes.has('serial'),
    'node-hid': schemes.has('hid'),
    udevadm: c.sources.some((s) => s.startsWith('serial:usb=')),
    libusb: schemes.has('hid'),
  };
  const failures: string[] = [];
  const warnings: string[] = [];
  const missing = (name: NativeModule | SystemPiece, fix: string) => (needed[name] ? failures : warnings).push(`${name}: ${fix}`);
  for (const name of ['better-sqlite3', 'serialport', 'node-hid'] as NativeModule[]) {
    try {
      c.deps.loadNative(name);
    } catch (e) {
      missing(name, c.deps.nativeFix(name, e));
    }
  }
  for (const { piece, fix } of await c.deps.missingSystemPieces()) missing(piece, fix);
  const names = (l: string[]) => l.map((f) => f.split(':')[0]).join(', ');
  if (failures.length) return fail('native modules', `missing ${names(failures)}, needed by the configured scanners${warnings.length ? `; also missing ${names(warnings)}` : ''}`, failures.concat(warnings).join('; '));
  if (warnings.length) return warn('native modules', `missing ${names(warnings)}: no configured scanner needs it, but \`scanpay scanners\` cannot list devices without it`, warnings.join('; '));
  return pass('native modules', 'better-sqlite3, serialport and node-hid load; udevadm and libusb present');
}

function withJournal<T>(c: Context, read: (j: Journal) => T): T | undefined {
  if (!existsSync(c.journalPath)) return undefined;
  const j = Journal.open(c.journalPath);
  try {
    return read(j);
  } finally {
    j.close();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Every check, in the order a technician reads them. Never throws: a check that cannot run says why. */
export async function runDoctor(deps: DoctorDeps): Promise<Check[]> {
  const { check: configCheck, config } = checkConfig(deps.home);
  const c: Context = {
    deps,
    config,
    record: readTerminalRecord(deps.home),
    journalPath: join(deps.home, 'journal.db'),
    sources: config?.lanes.flatMap((l) => l.scanners) ?? [],
    bareLanes: config?.lanes.filter((l) => l.scanners.length === 0).map((l) => l.id) ?? [],
  };
  const guard = (name: string, f: () => Check): Check => {
    try {
      return f();
    } catch (e) {
      return fail(name, `check failed: ${messageOf(e)}`, 'see the message; `scanpay logs --export FILE` for support');
    }
  };
  // Alipay and Upay sign with their own identities and have no v1 heartbeat (agent/backend/acquirer-doctor.ts).
  const other = config && config.backend.protocol !== 'scanpay-v1' ? await acquirerChecks(deps.home, config, deps.clock) : undefined;
  return [
    configCheck,
    ...(other ? other.slice(0, 1) : [guard('terminal identity', () => checkTerminal(c))]),
    ...(isWechat(c) ? [guard('wechat credentials', () => checkWechat(c))] : []),
    guard('database integrity', () => checkDatabase(c)),
    guard('journal identity', () => checkJournalIdentity(c)), // issue 12
    guard('free disk', () => checkDisk(c)),
    ...(other ? other.slice(1) : await backendChecks(c)),
    await checkScanners(c),
    guard('last scan', () => checkLastScan(c)),
    guard('queue', () => checkQueue(c)),
    guard('dead letters', () => checkDeadLetters(c)),
    guard('journal space', () => checkJournalSpace(c)), // issue 12
    await checkDeviceAlarms(c).catch((e: unknown) => fail('device alarms', `check failed: ${messageOf(e)}`, 'see the message; `scanpay logs --export FILE` for support')), // issue 12
    guard('device permissions', () => checkPermissions(c)),
    await checkNative(c).catch((e: unknown) => fail('native modules', `check failed: ${messageOf(e)}`, 'see the message; `scanpay logs --export FILE` for support')),
  ];
}
