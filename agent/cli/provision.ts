/**
 * `scanpay provision --backend URL --activation-code CODE [--scanner SOURCE] [--force]`:
 * the technician's first command on a blank device (agent/provision.ts does the work).
 * In a terminal, whatever is missing is asked for, with the detected scanners offered.
 * On a device already provisioned, `provision --scanner SOURCE` alone changes lane 1's
 * scanner as `scanpay scanners set` does: no activation code is asked for again.
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
import { ACTIVATION_CODE } from '../protocol/device-messages.ts';
import { ScannerManager } from '../scanner-manager.ts';
import { keyFingerprint, readTerminalRecord, terminalPath } from '../terminal-store.ts';
import { readAgentFile } from '../agent-file.ts';
import { loadConfig } from '../config.ts';
import { ScanpayError } from '../errors.ts';
import { integer } from './sim.ts';
import { protocolOption } from './protocol-option.ts';
import type { ProtocolName } from '../backend/acquirer-profile.ts';
import { provisionUpay } from '../backend/upay/upay-provision.ts';
import { upayTerminalPath, type UpayVendor } from '../backend/upay/upay-terminal.ts';
import { isLoopbackUrl } from '../backend/upay/upay-http.ts';
import { DEMO_UPAY_VENDOR } from '../../simulator/backend/upay/demo-upay.ts';
import { readFileSync } from 'node:fs';
import { probeAll } from './scanners.ts';
import { describeChange, setLaneScanners } from './scanners-set.ts';
import { provisionWechat } from '../backend/wechat/provision-wechat.ts';

const out = (line: string): void => void process.stdout.write(`${line}\n`);

interface Options {
  protocol: ProtocolName;
  appId?: string;
  mchId?: string;
  apiKeyFile?: string;
  clientCert?: string;
  clientKey?: string;
  clientCertPasswordFile?: string;
  platformCert?: string;
  apiV3KeyFile?: string;
  certSerial?: string;
  signType?: 'MD5' | 'HMAC-SHA256';
  backend?: string;
  activationCode?: string;
  scanner?: string;
  force?: boolean;
  testScan: boolean;
  testScanSeconds: number;
  vendorSn?: string;
  vendorKeyFile?: string;
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

/** Activation codes are three groups of four letters or digits, as acquirers print them on the shop's letter (and the simulator issues them). */

/** Asks until the answer looks like what is asked for; an empty answer is never taken. */
async function askValid(rl: Interface, question: string, valid: (s: string) => string | undefined): Promise<string> {
  for (;;) {
    const answer = await ask(rl, question);
    const problem = valid(answer);
    if (!problem) return answer;
    out(`  ${problem}`);
  }
}

const urlProblem = (s: string) => (/^https?:\/\/[^\s/]+/.test(s) ? undefined : 'an http(s) URL, e.g. https://acquirer.example/ (the simulator: http://127.0.0.1:8470)');
const codeProblem = (s: string) => (ACTIVATION_CODE.test(s.toUpperCase()) ? undefined : 'groups of four letters or digits, e.g. ABCD-EFGH-JK23-MN45 (`scanpay sim backend` prints one for the simulator)');

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
    const backend = o.backend ?? (await askValid(rl, 'backend URL (from the acquirer)', urlProblem));
    const activationCode = o.activationCode ?? (await askValid(rl, 'activation code (e.g. ABCD-EFGH-JKLM-NPQR)', codeProblem)).toUpperCase();
    const scanner = o.scanner ?? (await chooseScanner(rl));
    return { ...o, backend, activationCode, ...(scanner ? { scanner } : {}) };
  } finally {
    rl.close();
  }
}

/** Every lane's scanners as config.json now has them (not only what this run chose). */
function laneLines(home: string): string[] {
  return loadConfig(home).lanes.map((l) => `lane ${l.id}: ${l.scanners.length ? l.scanners.join(', ') : `none (add one: scanpay scanners set ${l.id} SOURCE)`}`);
}

/** `provision` on a device that already has its identity, without a new activation code: only the scanner can change. */
async function changeScannerOnly(home: string, o: Options, terminalId: string, interactive: boolean): Promise<void> {
  let scanner = o.scanner;
  if (scanner === undefined && interactive) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      scanner = await chooseScanner(rl);
    } finally {
      rl.close();
    }
  }
  if (scanner === undefined) {
    throw new ScanpayError('CONFIG_PROVISION_UNSAFE', {
      message: `this device is already provisioned as terminal ${terminalId}: to change a lane's scanners, scanpay scanners set LANE SOURCE; to provision it again, scanpay provision --backend URL --activation-code NEW-CODE --force`,
    });
  }
  out(`already provisioned as terminal ${terminalId}: no activation code needed to change the scanner (same as scanpay scanners set 1 ${scanner})`);
  for (const l of describeChange(setLaneScanners(home, '1', [scanner]), readAgentFile(home)?.pid)) out(l);
}

function summary(home: string, r: ProvisionResult, backend: string): string[] {
  const key = Buffer.from(readTerminalRecord(home)!.key, 'base64');
  const lanes = laneLines(home);
  return [
    '',
    r.activated ? 'provisioned:' : 'already provisioned (identity kept):',
    `  terminal    ${r.terminalId}`,
    `  merchant    ${r.merchantId} (${r.merchantName})`,
    `  backend     ${backend} (answered in ${r.heartbeatMs} ms)`,
    `  parameters  version ${r.paramsVersion}${r.paramsNote ? ` (${r.paramsNote})` : ''}`,
    ...lanes.map((l, i) => `  ${i === 0 ? 'scanners   ' : '           '} ${l}`),
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
    .option('--protocol <name>', "the acquirer's protocol: scanpay-v1 (default, activation code), upay (activation code and vendor credentials), or wechat-v2 / wechat-v3 (the merchant's own WeChat Pay credentials, docs/acquirers/wechat.md)", protocolOption, 'scanpay-v1' as ProtocolName)
    .option('--vendor-sn <sn>', 'upay: the vendor serial number Shouqianba issued to the device maker')
    .option('--vendor-key-file <path>', 'upay: file holding the vendor key (owner-only)')
    .option('--app-id <id>', 'upay: the vendor app id registered at Shouqianba; WeChat: the app id bound to the merchant (wx…)')
    .option('--no-test-scan', 'skip the test scan at the end')
    .option('--mch-id <id>', 'WeChat: the merchant number (商户号)')
    .option('--api-key-file <file>', 'WeChat v2: a file holding the API key (API密钥)')
    .option('--client-cert <file>', 'WeChat: the merchant API certificate, apiclient_cert.p12 or .pem')
    .option('--client-key <file>', 'WeChat: apiclient_key.pem (v3 request signing; v2 with a PEM certificate)')
    .option('--client-cert-password-file <file>', 'WeChat: the PKCS#12 password, if not the merchant number')
    .option('--platform-cert <file>', 'WeChat v3: the platform certificate that signs the answers')
    .option('--api-v3-key-file <file>', 'WeChat v3: a file holding the APIv3 key (APIv3密钥): the agent then follows platform-certificate rotations itself')
    .option('--cert-serial <hex>', 'WeChat v3: the merchant certificate serial (read from --client-cert when absent)')
    .option('--sign-type <t>', 'WeChat v2: MD5 (default) or HMAC-SHA256')
    .option('--test-scan-seconds <n>', 'how long the test scan waits', integer('--test-scan-seconds', 1, 600), 30)
    .action(async (given: Options, cmd: Command) => {
      if (given.protocol === 'wechat-v2' || given.protocol === 'wechat-v3') return provisionWechatCli(given);
      const interactive = Boolean(process.stdin.isTTY);
      const home = ensureHome();
      const existing = readTerminalRecord(home);
      if (existing && !given.activationCode && !given.backend && !given.force) return changeScannerOnly(home, given, existing.terminalId, interactive);
      const o = interactive && (!given.backend || !given.activationCode || !given.scanner) ? await interview(given) : given;
      if (!o.backend || !o.activationCode) {
        cmd.error(
          'scanpay provision: a blank device needs --backend URL and --activation-code CODE (in a terminal it asks for them).\n' +
            'The acquirer issues the code for your shop; for the simulator, `scanpay sim backend` prints one and the exact command (docs/getting-started.md).',
        );
      }
      if (o.protocol === 'upay') {
        const r = await provisionUpay({ home, backendUrl: o.backend!, activationCode: o.activationCode!, vendor: upayVendor(o), clock: systemClock, force: o.force ?? false, say: out });
        [
          '',
          r.activated ? 'provisioned at Upay:' : 'already provisioned at Upay (identity kept, key rotated):',
          `  terminal    ${r.record.terminalSn} (device ${r.record.deviceId})`,
          `  backend     ${o.backend}`,
          `  key         ${upayTerminalPath(home)} (owner-only; rotated at every daily check-in)`,
          `  config      ${join(home, 'config.json')} (backend.protocol upay)`,
          'next: scanpay doctor, then start the agent (scanpay run)',
        ].forEach((l) => out(l));
        return;
      }
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

/** The vendor's credentials from the options; against a simulator on loopback, the demo vendor. */
function upayVendor(o: Options): UpayVendor {
  if (o.vendorSn && o.vendorKeyFile && o.appId) {
    const vendorKey = readFileSync(o.vendorKeyFile, 'utf8').trim();
    return { vendorSn: o.vendorSn, vendorKey, appId: o.appId };
  }
  if (isLoopbackUrl(o.backend!)) {
    out(`upay: no --vendor-sn/--vendor-key-file/--app-id: using the simulator's demo vendor ${DEMO_UPAY_VENDOR.vendorSn}`);
    return DEMO_UPAY_VENDOR;
  }
  throw new ScanpayError('CONFIG_INVALID', { message: 'upay: pass --vendor-sn, --vendor-key-file and --app-id (the vendor credentials Shouqianba issued)' });
}

/** WeChat: no activation; the merchant's credential files, checked and stored owner-only. */
function provisionWechatCli(o: Options): void {
  const home = ensureHome();
  const protocol = o.protocol as 'wechat-v2' | 'wechat-v3';
  const r = provisionWechat({
    home, protocol, backendUrl: o.backend, appId: o.appId ?? '', mchId: o.mchId ?? '', signType: o.signType, apiKeyFile: o.apiKeyFile,
    clientCertFile: o.clientCert, clientKeyFile: o.clientKey, clientCertPassphraseFile: o.clientCertPasswordFile, platformCertFile: o.platformCert, apiV3KeyFile: o.apiV3KeyFile, certSerial: o.certSerial,
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
