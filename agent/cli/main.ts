/**
 * The `scanpay` command line. Each subcommand lives in its own module and registers
 * itself on the program; this file only wires them and turns errors into exit codes.
 * Only the module of the command being run is loaded (a `pay` or `doctor` never loads
 * the agent daemon, Fastify or the simulator); help and unknown commands load them all.
 */
import { Command, CommanderError } from 'commander';
import { isScanpayError } from '../errors.ts';
import { AGENT_VERSION } from '../version.ts';

type Register = (program: Command) => void;

/** The modules that register commands, in help order, with the top-level commands each one adds. */
const MODULES: Array<{ commands: string[]; load: () => Promise<Register> }> = [
  { commands: ['sim'], load: async () => (await import('./sim.ts')).registerSim },
  { commands: ['scanners'], load: async () => (await import('./scanners.ts')).registerScanners },
  { commands: ['run'], load: async () => (await import('./run.ts')).registerRun },
  { commands: ['pay'], load: async () => (await import('./pay.ts')).registerPay },
  { commands: ['show', 'list', 'cancel', 'refund', 'token'], load: async () => (await import('./payments.ts')).registerPayments },
  { commands: ['provision'], load: async () => (await import('./provision.ts')).registerProvision },
  { commands: ['doctor'], load: async () => (await import('./doctor.ts')).registerDoctor },
  { commands: ['queue'], load: async () => (await import('./queue.ts')).registerQueue },
  { commands: ['logs'], load: async () => (await import('./logs.ts')).registerLogs },
  { commands: ['settle'], load: async () => (await import('./settle.ts')).registerSettle },
  { commands: ['recover'], load: async () => (await import('./recover.ts')).registerRecover },
];

/**
 * The program with the commands `argv` can reach: the one it names, or every command when
 * it names none known (help, a typo: commander then lists or suggests them all), none for `--version`.
 */
export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('scanpay')
    .description('Barcode payment agent: takes wallet payments and never loses track of them.')
    .version(AGENT_VERSION, '-V, --version', 'print the version')
    .showHelpAfterError()
    // A group's options only count before its subcommand (`sim --port` is the QA page's,
    // `sim backend --port` the backend's); commander needs this on every level above.
    .enablePositionalOptions()
    .exitOverride();
  // The top-level program has no options but help and version, so the command is the first word.
  const name = argv.slice(2).find((a) => !a.startsWith('-'));
  const named = MODULES.filter((m) => name !== undefined && m.commands.includes(name));
  const versionOnly = name === undefined && argv.some((a) => a === '-V' || a === '--version');
  for (const m of named.length > 0 ? named : versionOnly ? [] : MODULES) (await m.load())(program);
  return program;
}

/** Runs the CLI and returns the exit status. Long-running commands resolve when they stop. */
export async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (isScanpayError(e)) {
      process.stderr.write(`scanpay: ${e.code}: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`scanpay: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
