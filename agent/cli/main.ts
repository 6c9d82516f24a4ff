/**
 * The `scanpay` command line. Each subcommand lives in its own module and registers
 * itself on the program (agent/cli/program.ts wires them and turns errors into exit codes).
 * Only the module of the command being run is loaded (a `pay` or `doctor` never loads
 * the agent daemon, Fastify or the simulator); help and unknown commands load them all.
 */
import type { Command } from 'commander';
import { buildProgramOf, runCli, type CommandModule } from './program.ts';

/** The modules that register commands, in help order, with the top-level commands each one adds. */
const MODULES: CommandModule[] = [
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

/** The program with the commands `argv` can reach (every one for help or a typo, none for `--version`). */
export function buildProgram(argv: string[] = []): Promise<Command> {
  return buildProgramOf(MODULES, argv);
}

/** Runs the CLI and returns the exit status. Long-running commands resolve when they stop. */
export function main(argv: string[]): Promise<number> {
  return runCli(MODULES, argv);
}
