/**
 * `scanpay run`: the long-running agent. Starts everything (agent/daemon.ts), prints where
 * the API is and how to pay, and on SIGINT/SIGTERM stops cleanly: the journal then says
 * exactly where each payment stood, and the next start resumes it.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { startAgent } from '../daemon.ts';
import { ensureHome } from '../home.ts';
import { createLogger } from '../log.ts';
import { QUEUE_KICK_SIGNAL } from './queue.ts';
import { protocolOption } from './protocol-option.ts';
import { PROTOCOLS, type ProtocolName } from '../backend/acquirer-profile.ts';

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65_535) throw new InvalidArgumentError('--port must be a whole number from 0 to 65535');
  return n;
}

function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the agent: scanners, payment engine with crash recovery, outbox, and the local POS API')
    .option('--demo', 'demo mode: embedded simulated backend (unless --backend), demo terminal, a virtual scanner per lane')
    .option('--backend <url>', 'an acquirer implementing docs/protocol.md (overrides backend.url in config.json)')
    .option('--port <n>', 'POS API port (0 picks a free one; default 8471)', port)
    .option('--host <h>', 'POS API address (default 127.0.0.1)')
    .option('--protocol <name>', `the acquirer's wire format, overrides backend.protocol (${PROTOCOLS.join(', ')}); with --demo the embedded simulator speaks it too`, protocolOption)
    .action(async (opts: { demo?: boolean; backend?: string; port?: number; host?: string; protocol?: ProtocolName }) => {
      const logger = createLogger({ name: 'scanpay' });
      const home = ensureHome();
      const signal = nextSignal();
      const agent = await startAgent({ home, logger, demo: opts.demo ?? false, backendUrl: opts.backend, port: opts.port, host: opts.host, protocol: opts.protocol });
      // `scanpay queue retry` asks for the queue to be sent now (agent/cli/queue.ts).
      const kick = () => agent.kickOutbox();
      process.on(QUEUE_KICK_SIGNAL, kick);
      const scanLane = agent.lanes.find((l) => !agent.lanesWithoutScanner.includes(l));
      const lines = [
        `scanpay agent running${opts.demo ? ' in demo mode' : ''} (terminal ${agent.terminalId}, data in ${home})`,
        `POS API:  ${agent.apiUrl}  (bearer token: \`npx scanpay token\`; OpenAPI: ${agent.apiUrl}/openapi.json; docs/pos-api.md)`,
        `backend:  ${agent.backendUrl}${agent.simulatorUrl ? ` (embedded simulator; control API ${agent.simulatorUrl}/control)` : ''}`,
        agent.simulatorUrl
          ? 'pay from another terminal:  npx scanpay pay 12.34 --demo-customer instant   (or password:8, insufficient, walkaway)'
          : scanLane
            ? `pay from another terminal:  npx scanpay pay 12.34${scanLane === agent.lanes[0] ? '' : ` --lane ${scanLane}`}   (then scan the customer's code on lane ${scanLane})`
            : 'pay from another terminal:  npx scanpay pay 12.34 --code CODE   (no lane has a scanner)',
        ...agent.lanesWithoutScanner.map((l) => `lane ${l} has NO SCANNER: nothing can be scanned there; add one: npx scanpay scanners set ${l} SOURCE   (\`npx scanpay scanners\` lists SOURCE specs)`),
        'press Ctrl-C to stop',
        '',
      ];
      process.stdout.write(lines.join('\n'));
      const s = await signal;
      process.off(QUEUE_KICK_SIGNAL, kick);
      logger.info({ signal: s }, 'stopping');
      await agent.stop();
      logger.flush();
    });
}
