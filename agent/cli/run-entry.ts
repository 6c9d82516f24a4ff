/**
 * `scanpay run` alone: the entry of dist/run.cjs (scripts/build.mjs), the script that
 * agent/bin/scanpay.js compiles with V8's code cache for `run`. Importing agent/cli/main.ts
 * would bundle every command's modules into it: it holds only what `run` may load.
 */
import { runCli } from './program.ts';
import { registerRun } from './run.ts';

export const main = (argv: string[]): Promise<number> => runCli([{ commands: ['run'], load: async () => registerRun }], argv);
