/**
 * WeChat Pay (v2 XML or v3 JSON) as a wire format of the simulated backend (build-backend.ts),
 * like Alipay and Upay: the same wallets, ledger, store, faults and `/control` API, with
 * WeChat's rules (agent/backend/wechat/profile.ts) and served over HTTPS under the demo CA.
 * The server asks for a client certificate and judges it against the demo CA and the
 * simulator's clock; only `/secapi/` insists on one, as WeChat does.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CERTIFICATES_PATH } from '../../../agent/backend/wechat/platform-certs.ts';
import { WECHAT_V2_PROFILE, WECHAT_V3_PROFILE } from '../../../agent/backend/wechat/profile.ts';
import type { WireDeps, WireProtocol } from '../build-backend.ts';
import { walletRulesFor } from '../rule-profiles.ts';
import { runWireCall, sendAnswer } from '../wire-call.ts';
import { subjectCn } from '../../../agent/backend/wechat/credentials.ts';
import { DEMO_FILES, DEMO_MERCHANT } from './demo-merchant.ts';
import { v2Wire } from './v2-wire.ts';
import { v3Wire } from './v3-wire.ts';
import { PlatformKeys } from './platform-keys.ts';
import { WechatBook } from './wechat-book.ts';
import type { IncomingCall, WechatFormat } from './wire.ts';

export type WechatProtocol = 'wechat-v2' | 'wechat-v3';

export interface WechatWire extends WireProtocol {
  /** v3: the platform certificates that sign answers; rotate() makes a new one current. */
  platform?: PlatformKeys;
}

export function wechatWire(protocol: WechatProtocol): WechatWire {
  const ca = readFileSync(DEMO_FILES.ca);
  const caCert = new X509Certificate(ca);
  const platform = protocol === 'wechat-v3' ? new PlatformKeys() : undefined;
  const v3 = platform ? v3Wire(platform) : undefined;
  const format = (v3 ?? v2Wire) as WechatFormat<unknown, unknown>;

  /** The client certificate of this TLS connection, judged as WeChat would: issued by the CA, valid now. */
  const peerCertOf = (req: FastifyRequest, now: number): IncomingCall['peerCert'] => {
    const socket = req.raw.socket as TLSSocket;
    const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
    if (!peer || !peer.raw) return undefined;
    const cert = new X509Certificate(peer.raw);
    if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return { valid: false, error: 'not issued by WeChat Pay (demo CA)' };
    // A merchant API certificate names its merchant: another merchant's is refused.
    if (subjectCn(cert) !== DEMO_MERCHANT.mchId) return { valid: false, error: `issued to merchant ${subjectCn(cert) ?? '(none)'}, not ${DEMO_MERCHANT.mchId}` };
    if (Date.parse(cert.validTo) <= now) return { valid: false, error: `expired on ${cert.validTo}` };
    if (Date.parse(cert.validFrom) > now) return { valid: false, error: `not valid before ${cert.validFrom}` };
    return { valid: true };
  };

  const routes = (deps: WireDeps) => async (api: FastifyInstance) => {
    const book = new WechatBook(deps.model, deps.rules.earliestReverseMs);
    // The exact bytes: the signatures cover them.
    api.removeAllContentTypeParsers();
    api.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    if (v3) {
      // Not a payment call: no injected faults, as a QA would not expect them on a certificate download.
      api.get(CERTIFICATES_PATH, async (req, reply) => {
        const call: IncomingCall = { method: 'GET', url: req.url, params: {}, headers: req.headers, body: Buffer.alloc(0), now: deps.clock.now() };
        sendAnswer(reply, v3.certificates(call, deps.clock.now()));
      });
    }
    for (const r of format.routes) {
      api.route({
        method: r.method,
        url: r.url,
        handler: async (req, reply) => {
          const now = deps.clock.now();
          const peerCert = peerCertOf(req, now);
          const call: IncomingCall = {
            method: req.method,
            url: req.url,
            params: (req.params ?? {}) as Record<string, string>,
            headers: req.headers,
            body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
            now,
            ...(peerCert ? { peerCert } : {}),
          };
          const parsed = format.parse(r.op, call);
          await runWireCall(deps, reply, {
            op: r.op,
            orderNo: parsed.orderNo,
            refusal: () => ('refuse' in parsed ? parsed.refuse : null),
            answer: (systemError) => {
              if ('refuse' in parsed) throw new Error('unreachable: a refused call is not processed');
              return parsed.invalid ?? (systemError ? format.systemError(r.op, parsed.input) : format.process(r.op, parsed.input, book));
            },
            render: (answer, signing) => format.emit(answer, signing, deps.clock.now()),
          });
        },
      });
    }
  };

  // WeChat's 7-day reverse window is the backend's reverseWindowMs (the same by default), which a scenario may shorten.
  const { reverseWindow: _window, ...rules } = walletRulesFor(protocol === 'wechat-v2' ? WECHAT_V2_PROFILE : WECHAT_V3_PROFILE);
  return {
    routes,
    rules,
    ...(platform ? { platform } : {}),
    // A WeChat Pay merchant account takes WeChat codes only.
    onlyWallet: 'wechat',
    tls: { cert: readFileSync(DEMO_FILES.server.cert), key: readFileSync(DEMO_FILES.server.key), ca },
  };
}
