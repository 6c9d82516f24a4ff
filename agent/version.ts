/**
 * The agent's version: package.json's, the one place it is set. `scanpay --version`, the
 * POS API's `GET /v1/agent`, heartbeats, activation and support bundles all read it here.
 */
import { readFileSync } from 'node:fs';

/** package.json is `../` from the sources and `../../` from the build (dist/agent/): the first one named scanpay above this file. */
function readVersion(): string {
  for (let dir = new URL('..', import.meta.url); ; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'scanpay' && pkg.version) return pkg.version;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (dir.pathname === '/') throw new Error(`scanpay's package.json not found above ${import.meta.url}`);
  }
}

export const AGENT_VERSION: string = readVersion();
