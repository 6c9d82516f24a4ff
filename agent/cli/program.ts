/**
 * The program and its error handling, over a given list of command modules: agent/cli/main.ts
 * passes every command, agent/cli/run-entry.ts only `run`. Only the module of the command
 * being run is loaded; help and unknown commands load them all.
 */
import { Command, CommanderError } from 'commander';
import { isScanpayError } from '../errors.ts';
import { AGENT_VERSION } from '../version.ts';

type Register = (program: Command) => void;

/** A module that registers commands, with the top-level commands it adds. */
export type CommandModule = { commands: string[]; load: () => Promise<Register> };

/**
 * The program with the commands `argv` can reach: the one it names, or every command when
 * it names none known (help, a typo: commander then lists or suggests them all), none for `--version`.
 */
export async function buildProgramOf(modules: CommandModule[], argv: string[] = []): Promise<Command> {
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
  const named = modules.filter((m) => name !== undefined && m.commands.includes(name));
  const versionOnly = name === undefined && argv.some((a) => a === '-V' || a === '--version');
  for (const m of named.length > 0 ? named : versionOnly ? [] : modules) (await m.load())(program);
  return program;
}

/** Runs the CLI and returns the exit status. Long-running commands resolve when they stop. */
export async function runCli(modules: CommandModule[], argv: string[]): Promise<number> {
  try {
    await (await buildProgramOf(modules, argv)).parseAsync(argv);
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
