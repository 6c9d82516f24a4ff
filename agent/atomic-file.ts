/** Whole-file replacement that a power cut cannot leave half written: tmp, fsync, rename. */
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';

export function writeFileAtomic(path: string, text: string | Buffer, mode: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    fchmodSync(fd, mode);
    writeSync(fd, typeof text === 'string' ? Buffer.from(text) : text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/**
 * The same replacement with every step in libuv's thread pool, for a file rewritten while
 * payments run (the event loop never waits for its fsync). Its own temporary name, so a
 * synchronous replacement of the same file at the same time cannot write into it; callers
 * serialise their own asynchronous replacements.
 */
export async function writeFileAtomicAsync(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.async.tmp`;
  const file = await open(tmp, 'w', mode);
  try {
    await file.chmod(mode);
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
}
