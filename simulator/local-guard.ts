/**
 * The simulator's QA surfaces (the backend's /control API and the QA page with its /api)
 * have no authentication: they trust that only this machine's own tools reach them. A web
 * page the QA engineer visits could otherwise drive them: by DNS rebinding (its own name
 * resolving to 127.0.0.1, so the browser lets it read the answers) or by cross-site
 * "simple" POSTs. Refused here:
 * - a Host that is not localhost or a loopback IP literal (rebinding: the Host is the
 *   attacker's name), unless listed in SCANPAY_SIM_ALLOWED_HOSTS;
 * - an Origin other than the page's own, and Sec-Fetch-Site cross-site or same-site;
 * - a state change whose content type a browser may send cross-site without asking
 *   (none, text/plain, form encodings): our page and tools send application/json or image
 *   bytes, which a browser sends cross-site only after a CORS preflight we never grant. A
 *   bodyless change passes only without an Origin, and browsers send Origin on every POST.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isLoopback } from '../agent/loopback.ts';

const SIMPLE_TYPES = /^(text\/plain|application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

function extraHosts(): Set<string> {
  return new Set((process.env.SCANPAY_SIM_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean));
}

/** Why the request must be refused, or undefined. */
export function foreignRequest(req: Pick<FastifyRequest, 'method' | 'headers'>): string | undefined {
  const host = String(req.headers.host ?? '');
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return `bad Host header "${host}"`;
  }
  if (!isLoopback(hostname) && !extraHosts().has(hostname.toLowerCase())) return `Host ${host} is not this machine (set SCANPAY_SIM_ALLOWED_HOSTS to allow it)`;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) return `Origin ${origin} is not this page`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `a ${site} request`;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const type = req.headers['content-type'];
    if (type === undefined ? origin !== undefined : SIMPLE_TYPES.test(type)) return `a ${req.method} with content type ${type ?? '(none)'}: send application/json`;
  }
  return undefined;
}

/** A Fastify onRequest hook answering 403 SIM_CONTROL_FORBIDDEN. */
export async function refuseForeign(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const why = foreignRequest(req);
  if (!why) return;
  req.log.warn({ why }, 'simulator request from outside refused');
  await reply.code(403).send({ error: { code: 'SIM_CONTROL_FORBIDDEN', message: `refused: ${why}; the simulator's QA surfaces answer only this machine's own tools and page` } });
}
