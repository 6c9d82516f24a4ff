/**
 * `scanpay sim …`: simulators for development and QA. `sim backend` runs the simulated
 * acquiring backend (simulator/README.md) until SIGINT or SIGTERM; `sim` alone, `sim run`
 * and `sim fleet` are the desktop simulator (sim-qa.ts).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { createLogger } from '../log.ts';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';
import { DEMO_FILES, DEMO_MERCHANT, issueDemoClientCert } from '../../simulator/backend/wechat/demo-merchant.ts';
import { registerSimQa } from './sim-qa.ts';
import { isLoopback } from '../loopback.ts';
import type { ProtocolName } from '../backend/acquirer-profile.ts';
import { startSimulatedBackend } from '../../simulator/backend/protocol-wires.ts';
import { DEMO_UPAY_ACTIVATION_CODE } from '../../simulator/backend/upay/demo-upay.ts';
import { protocolOption } from './protocol-option.ts';
import { scanpayHome } from '../home.ts';
import { join, resolve } from 'node:path';
import { ScanpayError } from '../errors.ts';

export const SIM_BACKEND_DEFAULTS = { port: 8470, host: '127.0.0.1', seed: 1 } as const;

export function integer(name: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
}

/** Resolves on the first of the given signals, and stops listening for them. */
export function nextSignal(signals: NodeJS.Signals[]): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      for (const x of signals) process.off(x, on);
      resolve(s);
    };
    for (const s of signals) process.on(s, on);
  });
}

export function registerSim(program: Command): void {
  // The group's own options (the QA page's --port, --host) only count before a subcommand,
  // so that `sim backend --port 0` means the backend's port (see buildProgram).
  const sim = program.command('sim').description('simulators for development and QA').enablePositionalOptions();

  sim
    .command('backend')
    .description('run the simulated acquiring backend (protocol v1 plus the /control QA API)')
    .option('--port <n>', 'port to listen on (0 picks a free one)', integer('--port', 0, 65535), SIM_BACKEND_DEFAULTS.port)
    .option('--host <h>', 'address to bind (the control API has no authentication: keep it on loopback)', SIM_BACKEND_DEFAULTS.host)
    .option('--seed <s>', 'seed of the random choices of rate-based faults', integer('--seed', 0, 2 ** 31 - 1), SIM_BACKEND_DEFAULTS.seed)
    .option('--protocol <name>', 'the wire format to speak: scanpay-v1 (default), wechat-v2 or wechat-v3 (HTTPS, demo merchant), alipay or upay', protocolOption, 'scanpay-v1' as ProtocolName)
    .option('--data <file>', 'SQLite file keeping orders, the ledger and terminals across restarts (default: sim-backend.db in $SCANPAY_HOME)')
    .option('--memory', 'keep everything in memory: a restart forgets every order')
    .option('--issue-client-cert <dir>', 'wechat-v2: mint a fresh client certificate of the demo merchant into DIR (apiclient_cert.p12, password the merchant number; PEM pair beside it) and print the provision line')
    .action(async (opts: { port: number; host: string; seed: number; protocol: ProtocolName; data?: string; memory?: boolean; issueClientCert?: string }) => {
      if (opts.issueClientCert && opts.protocol !== 'wechat-v2') throw new ScanpayError('CONFIG_INVALID', { message: '--issue-client-cert is for --protocol wechat-v2: only its /secapi/ calls present a client certificate' });
      const logger = createLogger({ name: 'scanpay-sim' });
      if (!isLoopback(opts.host)) logger.warn({ host: opts.host }, 'the control API is unauthenticated and now reachable from the network');
      const storePath = opts.memory ? undefined : (opts.data ?? join(scanpayHome(), 'sim-backend.db'));
      const { backend, agentUrl } = await startSimulatedBackend(opts.protocol, { port: opts.port, host: opts.host, seed: opts.seed, logger, ...(storePath ? { storePath } : {}) });
      const stopped = nextSignal(['SIGINT', 'SIGTERM']);
      // A technician's first need with a simulator: a device to provision against it.
      const activation = opts.protocol === 'scanpay-v1' ? backend.sim.device.issueActivationCode({ merchantName: 'Simulated shop' }) : undefined;
      const minted = opts.issueClientCert ? issueDemoClientCert(resolve(opts.issueClientCert)) : undefined;
      process.stdout.write(
        [
          `simulated backend listening on ${backend.url} (${opts.protocol}${opts.protocol === 'scanpay-v1' ? '' : `: agents use --backend ${agentUrl}`})`,
          `control API: ${backend.url}/control (health: ${backend.url}/control/health)`,
          opts.protocol === 'alipay'
            ? 'demo app: keys in simulator/backend/alipay/demo-keys.ts (scanpay run --demo --protocol alipay uses them)'
            : opts.protocol === 'upay'
              ? `demo vendor and activation code: simulator/backend/upay/demo-upay.ts (scanpay provision --protocol upay --backend ${backend.url} --activation-code ${DEMO_UPAY_ACTIVATION_CODE})`
              : opts.protocol.startsWith('wechat')
                ? `demo merchant: appid ${DEMO_MERCHANT.appId}, mch_id ${DEMO_MERCHANT.mchId}; server certificate from the demo CA ${DEMO_FILES.ca}; /secapi/ wants a client certificate of the merchant from that CA: --issue-client-cert DIR mints one`
                : `demo terminal: ${DEMO_TERMINAL.terminalId} (demo key, see simulator/backend/demo-terminal.ts)`,
          ...(activation
            ? [
                `activation code: ${activation.code} (merchant ${activation.merchantId}, valid until ${new Date(activation.expiresAt).toISOString().slice(0, 16)} UTC; more: curl -s -XPOST ${backend.url}/control/activation-codes -H 'content-type: application/json' -d '{}')`,
                `provision a device with it:  npx scanpay provision --backend ${backend.url} --activation-code ${activation.code}`,
              ]
            : []),
          ...(minted
            ? [
                `client certificate of merchant ${DEMO_MERCHANT.mchId}: ${minted.p12File} (password ${minted.passphrase}; PEM: ${minted.certFile}, ${minted.keyFile}), serial ${minted.serial}, valid until ${minted.validTo}`,
                `provision a device with it:  NODE_EXTRA_CA_CERTS=${DEMO_FILES.ca} npx scanpay provision --protocol wechat-v2 --backend ${agentUrl} --app-id ${DEMO_MERCHANT.appId} --mch-id ${DEMO_MERCHANT.mchId} --api-key-file ${DEMO_FILES.apiKey} --client-cert ${minted.p12File}`,
              ]
            : []),
          `orders and ledger: ${storePath ?? 'in memory (--memory): forgotten at exit'}`,
          'press Ctrl-C to stop',
          '',
        ].join('\n'),
      );
      logger.info({ url: backend.url, seed: opts.seed, protocol: opts.protocol }, 'simulated backend started');
      const signal = await stopped;
      logger.info({ signal }, 'stopping');
      await backend.close();
      logger.flush();
    });

  registerSimQa(sim);
}
