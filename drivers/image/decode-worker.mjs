// Worker entry: a worker thread does not inherit the TypeScript loader, so it registers
// its own before loading the decoder.
import { register } from 'tsx/esm/api';

register();
await import('./decode-worker.ts');
