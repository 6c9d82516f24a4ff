// `node --import ./module-trace.mjs …` with TRACE_OUT=FILE: appends the URL of every module
// the process loads to FILE, one a line (the start-up tests read which modules a command needs).
import { register } from 'node:module';

register(new URL('./module-trace-hooks.mjs', import.meta.url));
