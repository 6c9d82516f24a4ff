/**
 * Mints a merchant API certificate ("apiclient_cert") for the simulated WeChat Pay, as the
 * merchant platform issues one: a fresh RSA key, a certificate whose subject CN is the
 * merchant number, signed by the simulator's demo CA, as PEM pair and PKCS#12 (password:
 * the merchant number, as WeChat's). The key is made with node:crypto; the certificate
 * and the PKCS#12 by the `openssl` command line, which Node cannot do by itself.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanpayError } from '../../../agent/errors.ts';

export interface IssuedClientCert {
  certFile: string;
  keyFile: string;
  /** The same certificate and key as PKCS#12, password `passphrase`. */
  p12File: string;
  passphrase: string;
  serial: string;
  validTo: string;
}

export const CLIENT_CERT_FILES = { cert: 'apiclient_cert.pem', key: 'apiclient_key.pem', p12: 'apiclient_cert.p12' } as const;

/** Into `dir`: signed by the CA `ca` (the simulator's demo CA); `keyFile` reuses a key instead of making one. */
export function issueClientCert(dir: string, o: { mchId: string; ca: { cert: string; key: string }; days?: number; keyFile?: string }): IssuedClientCert {
  const { certFile, keyFile } = issueCertificate(dir, { ...o, subject: `/CN=${o.mchId}/O=scanpay demo merchant/OU=simulated WeChat Pay merchant API certificate`, names: CLIENT_CERT_FILES });
  const p12File = join(dir, CLIENT_CERT_FILES.p12);
  openssl(['pkcs12', '-export', '-in', certFile, '-inkey', keyFile, '-name', 'Tenpay Certificate', '-passout', `pass:${o.mchId}`, '-out', p12File]);
  chmodSync(p12File, 0o600);
  const cert = new X509Certificate(readFileSync(certFile));
  return { certFile, keyFile, p12File, passphrase: o.mchId, serial: cert.serialNumber, validTo: cert.validTo };
}

/** A fresh RSA key and a certificate of `subject` (openssl's /CN=…/O=… form) signed by `ca`, valid from an hour ago for `days`. */
export function issueCertificate(dir: string, o: { subject: string; ca: { cert: string; key: string }; days?: number; keyFile?: string; names?: { cert: string; key: string } }): { certFile: string; keyFile: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, o.names?.key ?? 'key.pem');
  const certFile = join(dir, o.names?.cert ?? 'cert.pem');
  const key = o.keyFile ? readFileSync(o.keyFile, 'utf8') : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(keyFile, key, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  const serial = randomBytes(16).toString('hex').replace(/^[89a-f]/, '1');
  const csr = join(dir, 'request.csr');
  openssl(['req', '-new', '-key', keyFile, '-subj', o.subject, '-out', csr]);
  // `openssl ca` rather than `x509 -req`: only it takes a start date, and a certificate valid
  // from an hour ago is not refused by a device whose clock is a little behind.
  const work = mkdtempSync(join(tmpdir(), 'scanpay-ca-'));
  try {
    writeFileSync(join(work, 'index.txt'), '');
    writeFileSync(join(work, 'serial'), `${serial}\n`);
    writeFileSync(
      join(work, 'ca.cnf'),
      [
        '[ca]',
        'default_ca = demo',
        '[demo]',
        `database = ${join(work, 'index.txt')}`,
        `new_certs_dir = ${work}`,
        `serial = ${join(work, 'serial')}`,
        'default_md = sha256',
        'policy = merchant',
        'unique_subject = no',
        '[merchant]',
        'commonName = supplied',
        'organizationName = optional',
        'organizationalUnitName = optional',
        'countryName = optional',
        '',
      ].join('\n'),
    );
    const from = Date.now() - 3_600_000;
    const until = from + (o.days ?? 365) * 86_400_000;
    openssl(['ca', '-batch', '-notext', '-config', join(work, 'ca.cnf'), '-cert', o.ca.cert, '-keyfile', o.ca.key, '-in', csr, '-out', certFile, '-startdate', asn1Time(from), '-enddate', asn1Time(until)]);
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(csr, { force: true });
  }
  return { certFile, keyFile };
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new ScanpayError('CONFIG_INVALID', { message: 'minting the demo client certificate needs the openssl command: apt-get install openssl' });
    throw new ScanpayError('CONFIG_INVALID', { message: `openssl ${args[0]} failed: ${err.stderr?.toString().trim() || err.message}` });
  }
}

/** openssl's UTCTime: YYMMDDHHMMSSZ. */
function asn1Time(ms: number): string {
  return `${new Date(ms).toISOString().replace(/[-:T]/g, '').slice(2, 14)}Z`;
}
