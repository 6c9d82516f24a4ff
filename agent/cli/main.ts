/**
 * The `scanpay` command line. Each subcommand lives in its own module and registers
 * itself on the program; this file only wires them and turns errors into exit codes.
 */
import { Command, CommanderError } from 'commander';
import { isScanpayError } from '../errors.ts';
import { registerPay } from './pay.ts';
import { registerPayments } from './payments.ts';
import { registerRun } from './run.ts';
import { registerScanners } from './scanners.ts';
import { registerSim } from './sim.ts';
import { registerProvision } from './provision.ts';
import { registerDoctor } from './doctor.ts';
import { registerQueue } from './queue.ts';
import { registerLogs } from './logs.ts';
import { registerSettle } from './settle.ts';
import { registerRecover } from './recover.ts';

export function buildProgram(): Command {
  const program = new Command('scanpay')
    .description('Barcode payment agent: takes wallet payments and never loses track of them.')
    .showHelpAfterError()
    // A group's options only count before its subcommand (`sim --port` is the QA page's,
    // `sim backend --port` the backend's); commander needs this on every level above.
    .enablePositionalOptions()
    .exitOverride();
  registerSim(program);
  registerScanners(program);
  registerRun(program);
  registerPay(program);
  registerPayments(program);
  registerProvision(program);
  registerDoctor(program);
  registerQueue(program);
  registerLogs(program);
  registerSettle(program);
  registerRecover(program);
  return program;
}

/** Runs the CLI and returns the exit status. Long-running commands resolve when they stop. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
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
