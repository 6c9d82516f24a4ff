/**
 * The platform certificates learnt from `/v3/certificates`, kept across restarts in the
 * agent's home. Only certificates that passed the checks of a fetch are written (decrypted
 * under the APIv3 key, listed under their own serial, the list signed by a trusted one), so
 * after a restart the agent verifies answers signed with a rotated certificate at once,
 * without the APIv3 key and without a fetch on the payment path. Expired ones are dropped.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../atomic-file.ts';
import { certSerial } from './v3-signing.ts';

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function platformCertCacheFile(home: string): string {
  return join(home, 'wechat-platform-certs.pem');
}

/** The cached certificates still valid at `now`, by serial; none when there is no cache. A damaged entry is skipped, not fatal: the configured certificate and a fetch remain. */
export function loadCachedPlatformCerts(file: string, now: number): Map<string, X509Certificate> {
  const out = new Map<string, X509Certificate>();
  if (!existsSync(file)) return out;
  for (const pem of readFileSync(file, 'utf8').match(PEM) ?? []) {
    try {
      const cert = new X509Certificate(pem);
      if (Date.parse(cert.validTo) > now) out.set(certSerial(cert), cert);
    } catch {
      // Not a certificate: ignored.
    }
  }
  return out;
}

export function saveCachedPlatformCerts(file: string, certs: ReadonlyMap<string, X509Certificate>): void {
  writeFileAtomic(file, [...certs.values()].map((c) => c.toString().trim()).join('\n') + '\n', 0o600);
}
