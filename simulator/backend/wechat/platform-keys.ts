/**
 * The simulated WeChat Pay v3 platform certificates (平台证书): the demo one at first, and a
 * new one minted from the demo CA at each rotate(), which then signs every answer while the
 * older ones stay listed, as WeChat does during a rotation. `GET /v3/certificates` lists
 * them all, each encrypted with AEAD_AES_256_GCM under the merchant's APIv3 key.
 */
import { createCipheriv, createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certSerial } from '../../../agent/backend/wechat/v3-signing.ts';
import { issueCertificate } from './client-cert.ts';
import { DEMO_FILES } from './demo-merchant.ts';

export interface PlatformCert {
  serial: string;
  pem: string;
  cert: X509Certificate;
  key: KeyObject;
}

export class PlatformKeys {
  readonly #certs: PlatformCert[] = [];

  constructor() {
    this.#add(readFileSync(DEMO_FILES.platform.cert, 'utf8'), readFileSync(DEMO_FILES.platform.key, 'utf8'));
  }

  /** The certificate whose key signs answers now. */
  get current(): PlatformCert {
    return this.#certs.at(-1)!;
  }

  list(): PlatformCert[] {
    return [...this.#certs];
  }

  /** Mints a new platform certificate, which signs from now on; returns its serial. */
  rotate(): string {
    const dir = mkdtempSync(join(tmpdir(), 'scanpay-wxplatform-'));
    try {
      const { certFile, keyFile } = issueCertificate(dir, { subject: '/CN=Wechatpay platform (simulated)/O=scanpay WeChat simulator', ca: { cert: DEMO_FILES.ca, key: DEMO_FILES.caKey } });
      return this.#add(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8')).serial;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The body of `GET /v3/certificates` for a merchant with this APIv3 key. */
  certificatesBody(apiV3Key: string): unknown {
    return {
      data: this.#certs.map((c) => ({
        serial_no: c.serial,
        effective_time: iso8(Date.parse(c.cert.validFrom)),
        expire_time: iso8(Date.parse(c.cert.validTo)),
        encrypt_certificate: { algorithm: 'AEAD_AES_256_GCM', associated_data: 'certificate', ...encrypt(apiV3Key, c.pem, 'certificate') },
      })),
    };
  }

  #add(pem: string, key: string): PlatformCert {
    const cert = new X509Certificate(pem);
    const entry = { serial: certSerial(cert), pem, cert, key: createPrivateKey(key) };
    this.#certs.push(entry);
    return entry;
  }
}

function encrypt(apiV3Key: string, plain: string, aad: string): { nonce: string; ciphertext: string } {
  // WeChat's nonces are 12 printable characters, used as the GCM IV's bytes.
  const nonce = randomBytes(9).toString('base64url').slice(0, 12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { nonce, ciphertext: body.toString('base64') };
}

/** RFC 3339 in Beijing time, as WeChat writes times. */
function iso8(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, '+08:00');
}
