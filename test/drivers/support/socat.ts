/**
 * A real pty pair from socat: the scanner side is what the driver opens, the peer side is
 * where the test plays the scanner. Links give both ends stable paths, so a restarted
 * socat (the scanner "coming back") reappears where the driver looks for it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface PtyPair {
  scanner: string;
  peer: string;
  /** Writes bytes on the peer side as the scanner would send them. */
  write(bytes: string | Buffer): void;
  /** Reads what the driver sent to the scanner (blocks until `n` bytes are there). */
  read(n: number): Buffer;
  stop(): Promise<void>;
}

export function requireSocat(): void {
  const probe = spawnSync('socat', ['-V'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) throw new Error('socat is not installed: apt-get install socat (the serial driver tests need real pty pairs)');
}

export async function startPtyPair(dir: string): Promise<PtyPair> {
  requireSocat();
  const scanner = join(dir, 'scanner');
  const peer = join(dir, 'peer');
  const child: ChildProcess = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${scanner}`, `pty,raw,echo=0,link=${peer}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ptys = await new Promise<string[]>((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const found = [...stderr.matchAll(/PTY is (\/dev\/pts\/\d+)/g)].map((m) => m[1]!);
      if (found.length === 2 && stderr.includes('starting data transfer loop')) resolve(found);
    });
    child.once('exit', (code) => reject(new Error(`socat exited with ${code}: ${stderr}`)));
    child.once('error', reject);
  });
  if (ptys.length !== 2) throw new Error('socat did not report two ptys');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // One descriptor for the whole run: when the last one on a pty closes, socat reads EOF and quits.
  let peerFd: number | undefined;
  const fd = () => (peerFd ??= openSync(peer, 'r+'));
  return {
    scanner,
    peer,
    write(bytes) {
      writeSync(fd(), typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
    },
    read(n) {
      const buf = Buffer.alloc(n);
      let got = 0;
      while (got < n) got += readSync(fd(), buf, got, n - got, null);
      return buf;
    },
    async stop() {
      if (peerFd !== undefined) closeSync(peerFd);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
