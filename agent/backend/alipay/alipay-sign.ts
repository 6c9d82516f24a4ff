/**
 * Alipay OpenAPI signing (RSA2 = SHA256withRSA, base64), as the official SDKs do it:
 * requests sign every non-empty parameter but `sign`, sorted by name, joined `k=v&k=v`;
 * answers are verified over the raw text of the `*_response` value exactly as it stands in
 * the body (alipay-sdk-nodejs-all `checkResponseSign`), never over a re-serialised object.
 */
import { createSign, createVerify, type KeyObject } from 'node:crypto';

export function signContent(params: Record<string, string | undefined>): string {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export function rsa2Sign(content: string, privateKey: KeyObject | string): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(privateKey, 'base64');
}

export function rsa2Verify(content: string, signature: string, publicKey: KeyObject | string): boolean {
  try {
    return createVerify('RSA-SHA256').update(content, 'utf8').verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}

/**
 * The raw text of the top-level member `key` of a JSON object text, or null. Scans the
 * text (strings and escapes respected) instead of searching for the name, so a sub_msg
 * that happens to contain `"sign"` or the response key cannot move the cut.
 */
export function rawMember(body: string, key: string): string | null {
  let i = skipWs(body, 0);
  if (body[i] !== '{') return null;
  i++;
  for (;;) {
    i = skipWs(body, i);
    if (body[i] === '}') return null;
    const nameEnd = endOfString(body, i);
    if (nameEnd < 0) return null;
    const name = JSON.parse(body.slice(i, nameEnd)) as string;
    i = skipWs(body, nameEnd);
    if (body[i] !== ':') return null;
    const start = skipWs(body, i + 1);
    const end = endOfValue(body, start);
    if (end < 0) return null;
    if (name === key) return body.slice(start, end);
    i = skipWs(body, end);
    if (body[i] === ',') i++;
    else return null;
  }
}

function skipWs(s: string, i: number): number {
  while (i < s.length && ' \t\r\n'.includes(s[i]!)) i++;
  return i;
}

/** Index just past the JSON string starting at `i`, or -1. */
function endOfString(s: string, i: number): number {
  if (s[i] !== '"') return -1;
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === '"') return j + 1;
  }
  return -1;
}

/** Index just past the JSON value starting at `i` (object, array, string or scalar), or -1. */
function endOfValue(s: string, i: number): number {
  if (s[i] === '"') return endOfString(s, i);
  if (s[i] !== '{' && s[i] !== '[') {
    let j = i;
    while (j < s.length && !',}] \t\r\n'.includes(s[j]!)) j++;
    return j > i ? j : -1;
  }
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    const c = s[j]!;
    if (c === '"') {
      j = endOfString(s, j) - 1;
      if (j < 0) return -1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return -1;
}

export type VerifiedAnswer =
  | { ok: true; data: Record<string, unknown> }
  | { ok: false; why: string };

/**
 * Cuts `responseKey` (e.g. alipay_trade_pay_response) out of the raw body, checks `sign`
 * over it with Alipay's public key, and only then parses it. Gateway errors arrive under
 * `error_response`; they are verified the same way. Unsigned is never accepted.
 */
export function verifyAnswer(body: string, responseKey: string, alipayPublicKey: KeyObject | string): VerifiedAnswer {
  let top: unknown;
  try {
    top = JSON.parse(body);
  } catch {
    return { ok: false, why: 'the body is not JSON' };
  }
  if (typeof top !== 'object' || top === null || Array.isArray(top)) return { ok: false, why: 'the body is not a JSON object' };
  const sign = (top as Record<string, unknown>).sign;
  if (typeof sign !== 'string' || sign === '') return { ok: false, why: 'the answer is unsigned' };
  const key = responseKey in top ? responseKey : 'error_response' in top ? 'error_response' : null;
  if (!key) return { ok: false, why: `no ${responseKey} in the answer` };
  const raw = rawMember(body, key);
  if (raw === null) return { ok: false, why: `${key} could not be cut out of the body` };
  if (!rsa2Verify(raw, sign, alipayPublicKey)) return { ok: false, why: 'the signature does not match Alipay’s public key' };
  // Parsed from the very text that was verified: a second member of the same name later in
  // the body (JSON.parse keeps the last one) cannot smuggle in unsigned content.
  const data: unknown = JSON.parse(raw);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, why: `${key} is not an object` };
  return { ok: true, data: data as Record<string, unknown> };
}
