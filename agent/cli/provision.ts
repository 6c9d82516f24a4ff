/**
 * `scanpay provision --backend URL --activation-code CODE [--scanner SOURCE] [--force]`:
 * the technician's first command on a blank device (agent/provision.ts does the work).
 * In a terminal, whatever is missing is asked for, with the detected scanners offered.
 * Ends with a test scan (unless --no-test-scan; skipped when run unattended without a
 * scanner) and a summary that says where the key is, never the key.
 */
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline/promises';
import type { Command } from 'commander';
import { createSource } from '../../drivers/create-source.ts';
import { listHidDevices } from '../../drivers/hid/hid-device.ts';
import { listSerialPorts } from '../../drivers/serial/serial-port.ts';
import { systemClock } from '../clock.ts';
import { ensureHome } from '../home.ts';
import { createLogger } from '../log.ts';
import { describeCode, maskCode } from '../payment-code.ts';
import { provision, type ProvisionResult } from '../provision.ts';
import { ScannerManager } from '../scanner-manager.ts';
import { keyFingerprint, readTerminalRecord, terminalPath } from '../terminal-store.ts';
import { integer } from './sim.ts';
import { probeAll } from './scanners.ts';
import { protocolOption } from './sim.ts';
import type { ProtocolName } from '../backend/acquirer-profile.ts';
import { provisionWechat } from '../backend/wechat/provision-wechat.ts';

const out = (line: string): void => void process.stdout.write(`${line}\n`);

interface Options {
  protocol?: ProtocolName;
  appId?: string;
  mchId?: string;
  apiKeyFile?: string;
  clientCert?: string;
  clientKey?: string;
  clientCertPasswordFile?: string;
  platformCert?: string;
  certSerial?: string;
  signType?: 'MD5' | 'HMAC-SHA256';
  backend?: string;
  activationCode?: string;
  scanner?: string;
  force?: boolean;
  testScan: boolean;
  testScanSeconds: number;
}

/** SOURCE specs of the attached devices that look like scanners, most likely first. */
async function detectScanners(): Promise<string[]> {
  const { serial, hid } = await probeAll({ listSerial: listSerialPorts, listHid: listHidDevices });
  return [serial, hid].flatMap((p) => (Array.isArray(p) ? p : [])).filter((p) => p.likelyScanner).map((p) => p.spec);
}

/** Opens the scanner and waits for one scan: what scanpay makes of it, masked. */
export async function testScan(spec: string, seconds: number, say: (line: string) => void): Promise<string> {
  const manager = new ScannerManager({ sources: [createSource(spec, { clock: systemClock })], clock: systemClock, logger: createLogger({ level: 'silent' }) });
  let timer: NodeJS.Timeout | undefined;
  const result = new Promise<string>((resolve) => {
    manager.on('scan', (e) => resolve(`${maskCode(e.text)}: ${describeCode(e.text)}`));
    manager.on('rejected', (e) => resolve(`scan rejected: ${e.error.code}: ${e.error.message}`));
    manager.on('status', (e) => {
      if (e.status === 'error' && e.error) resolve(`scanner did not open: ${e.error.code}: ${e.error.message}`);
    });
    timer = setTimeout(() => resolve(`no scan within ${seconds} s`), seconds * 1000);
  });
  say(`test scan: scan any barcode on ${spec} within ${seconds} s`);
  try {
    await manager.start();
    return await result;
  } finally {
    clearTimeout(timer);
    await manager.stop();
  }
}

async function ask(rl: Interface, question: string, fallback?: string): Promise<string> {
  const answer = (await rl.question(`${question}${fallback ? ` [${fallback}]` : ''}: `)).trim();
  return answer || fallback || '';
}

async function chooseScanner(rl: Interface): Promise<string | undefined> {
  const found = await detectScanners();
  if (found.length === 0) {
    const typed = await ask(rl, 'no scanner detected; SOURCE spec (docs/scanners.md), or Enter for none');
    return typed || undefined;
  }
  found.forEach((s, i) => out(`  ${i + 1}) ${s}`));
  const pick = await ask(rl, `scanner: 1-${found.length}, a SOURCE spec, or "none"`, '1');
  if (pick === 'none') return undefined;
  return /^\d+$/.test(pick) ? found[Number(pick) - 1] : pick;
}

/** Fills in what the command line left out by asking; only called on a TTY. */
async function interview(o: Options): Promise<Options> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const backend = o.backend ?? (await ask(rl, 'backend URL (from the acquirer)'));
    const activationCode = o.activationCode ?? (await ask(rl, 'activation code (e.g. ABCD-EFGH-JKLM)'));
    const scanner = o.scanner ?? (await chooseScanner(rl));
    return { ...o, backend, activationCode, ...(scanner ? { scanner } : {}) };
  } finally {
    rl.close();
  }
}

function summary(home: string, r: ProvisionResult, backend: string): string[] {
  const key = Buffer.from(readTerminalRecord(home)!.key, 'base64');
  return [
    '',
    r.activated ? 'provisioned:' : 'already provisioned (identity kept):',
    `  terminal    ${r.terminalId}`,
    `  merchant    ${r.merchantId} (${r.merchantName})`,
    `  backend     ${backend} (answered in ${r.heartbeatMs} ms)`,
    `  parameters  version ${r.paramsVersion}${r.paramsNote ? ` (${r.paramsNote})` : ''}`,
    `  scanner     ${r.scanner ?? 'none (add one: scanpay provision --scanner SOURCE)'}`,
    `  test scan   ${r.testScan}`,
    `  key         ${terminalPath(home)} (owner-only; ${keyFingerprint(key)})`,
    `  config      ${join(home, 'config.json')}`,
    'next: scanpay doctor, then start the agent (systemctl enable --now scanpay, or scanpay run)',
  ];
}

export function registerProvision(program: Command): void {
  program
    .command('provision')
    .description('activate this device with the acquirer: identity, key (owner-only), parameters and scanner; asks for what is missing in a terminal')
    .option('--backend <url>', "the acquirer's URL")
    .option('--activation-code <code>', 'the one-time code the acquirer issued for this shop')
    .option('--scanner <source>', 'the scanner SOURCE (see `scanpay scanners`); default: the first device that looks like one')
    .option('--force', 're-provision although payments are unfinished or items queued (nothing queued is discarded)')
    .option('--no-test-scan', 'skip the test scan at the end')
    .option('--protocol <p>', 'the acquirer API: scanpay-v1 (activation code) or wechat-v2 / wechat-v3 (the merchant\'s own WeChat Pay credentials, docs/acquirers/wechat.md)', protocolOption)
    .option('--app-id <id>', 'WeChat: the app id bound to the merchant (wx…)')
    .option('--mch-id <id>', 'WeChat: the merchant number (商户号)')
    .option('--api-key-file <file>', 'WeChat v2: a file holding the API key (API密钥)')
    .option('--client-cert <file>', 'WeChat: the merchant API certificate, apiclient_cert.p12 or .pem')
    .option('--client-key <file>', 'WeChat: apiclient_key.pem (v3 request signing; v2 with a PEM certificate)')
    .option('--client-cert-password-file <file>', 'WeChat: the PKCS#12 password, if not the merchant number')
    .option('--platform-cert <file>', 'WeChat v3: the platform certificate that signs the answers')
    .option('--cert-serial <hex>', 'WeChat v3: the merchant certificate serial (read from --client-cert when absent)')
    .option('--sign-type <t>', 'WeChat v2: MD5 (default) or HMAC-SHA256')
    .option('--test-scan-seconds <n>', 'how long the test scan waits', integer('--test-scan-seconds', 1, 600), 30)
    .action(async (given: Options, cmd: Command) => {
      if (given.protocol === 'wechat-v2' || given.protocol === 'wechat-v3') return provisionWechatCli(given);
      const interactive = Boolean(process.stdin.isTTY);
      const o = interactive && (!given.backend || !given.activationCode || !given.scanner) ? await interview(given) : given;
      if (!o.backend || !o.activationCode) cmd.error('scanpay provision: --backend and --activation-code are required (run it in a terminal to be asked for them)');
      const home = ensureHome();
      // Unattended without --scanner there is nobody to scan: a test scan would only wait.
      const scanTest = o.testScan && (interactive || given.scanner !== undefined);
      const r = await provision({
        home,
        backendUrl: o.backend!,
        activationCode: o.activationCode!,
        clock: systemClock,
        scanner: o.scanner,
        // In a terminal the technician already chose among the detected ones (or none).
        ...(interactive ? {} : { detectScanner: async () => (await detectScanners())[0] }),
        ...(scanTest ? { testScan: (spec: string) => testScan(spec, o.testScanSeconds, out) } : {}),
        force: o.force ?? false,
        say: out,
      });
      summary(home, r, o.backend!).forEach((l) => out(l));
    });
}

/** WeChat: no activation; the merchant's credential files, checked and stored owner-only. */
function provisionWechatCli(o: Options): void {
  const home = ensureHome();
  const protocol = o.protocol as 'wechat-v2' | 'wechat-v3';
  const r = provisionWechat({
    home, protocol, backendUrl: o.backend, appId: o.appId ?? '', mchId: o.mchId ?? '', signType: o.signType, apiKeyFile: o.apiKeyFile,
    clientCertFile: o.clientCert, clientKeyFile: o.clientKey, clientCertPassphraseFile: o.clientCertPasswordFile, platformCertFile: o.platformCert, certSerial: o.certSerial,
  });
  const cert = r.credentials.clientCert?.().cert;
  [
    '',
    `provisioned for WeChat Pay (${protocol}):`,
    `  merchant     ${r.config.mchId}, app ${r.config.appId}`,
    ...(cert ? [`  certificate  serial ${cert.serialNumber}, valid until ${cert.validTo}`] : []),
    ...(r.credentials.serialNo ? [`  signing      merchant certificate serial ${r.credentials.serialNo}`] : []),
    ...(r.credentials.platformCerts ? [`  platform     ${[...r.credentials.platformCerts.keys()].join(', ')}`] : []),
    `  files        ${join(home, 'wechat')} (owner-only copies)`,
    `  config       ${r.configPath}`,
    'next: scanpay doctor, then start the agent (systemctl enable --now scanpay, or scanpay run)',
  ].forEach((l) => out(l));
}
