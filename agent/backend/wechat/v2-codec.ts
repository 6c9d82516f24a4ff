/**
 * WeChat Pay API v2 wire format: a flat `<xml>` of string fields, and the MD5 / HMAC-SHA256
 * signature over them (pay.weixin.qq.com/doc/v2, "安全规范"). Shared by the agent's adapter
 * and the simulator, which must agree byte for byte on what is signed.
 *
 * fast-xml-parser does the XML both ways: answers arrive with CDATA sections, entities and
 * fields we have never seen, and a hand-written parser is where such things go wrong.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';

export type V2Fields = Record<string, string>;
export type V2SignType = 'MD5' | 'HMAC-SHA256';

/** Where the parser puts text that is not inside a field (a tag name cannot contain '#'). */
const TEXT = '#text';

const parser = new XMLParser({
  textNodeName: TEXT,
  // Every value stays the string that was signed: "0010" must not become 10.
  parseTagValue: false,
  trimValues: false,
  ignoreAttributes: true,
  processEntities: true,
  // WeChat puts values in CDATA; the parser then hands them back as plain text.
  cdataPropName: false,
});

const builder = new XMLBuilder({ cdataPropName: '#cdata', format: false, suppressEmptyNode: false });

export class V2FormatError extends Error {}

/** Parses a v2 body into its fields; anything that is not one flat `<xml>` is refused. */
export function parseV2(text: string): V2Fields {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new V2FormatError(`not XML (${valid.err.msg}, line ${valid.err.line})`);
  const doc = parser.parse(text) as Record<string, unknown>;
  const root = doc.xml;
  if (root === '' || root === undefined) {
    if ('xml' in doc) return {};
    throw new V2FormatError('the root element is not <xml>');
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new V2FormatError('<xml> holds no fields');
  const fields: V2Fields = {};
  for (const [k, v] of Object.entries(root)) {
    // The line breaks WeChat writes between fields come back as text of <xml>: not a field, never signed.
    if (k === TEXT && typeof v === 'string' && v.trim() === '') continue;
    if (k === TEXT) throw new V2FormatError('<xml> holds text outside its fields');
    if (typeof v === 'string') fields[k] = v;
    else if (Array.isArray(v)) throw new V2FormatError(`field ${k} appears more than once`);
    else throw new V2FormatError(`field ${k} is not a plain value`);
  }
  return fields;
}

/** Serialises fields as WeChat does: `<xml>` with each value in CDATA. */
export function buildV2(fields: V2Fields): string {
  const root: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new V2FormatError(`field name ${JSON.stringify(k)} is not a valid XML element name`);
    root[k] = { '#cdata': v };
  }
  return builder.build({ xml: root }) as string;
}

/** The signed string: non-empty fields except `sign`, sorted by name (ASCII), `k=v&…&key=API_KEY`. */
export function v2SigningString(fields: V2Fields, apiKey: string): string {
  const parts = Object.keys(fields)
    .filter((k) => k !== 'sign' && fields[k] !== '' && fields[k] !== undefined)
    .sort()
    .map((k) => `${k}=${fields[k]}`);
  parts.push(`key=${apiKey}`);
  return parts.join('&');
}

export function signV2(fields: V2Fields, apiKey: string, type: V2SignType = 'MD5'): string {
  const s = v2SigningString(fields, apiKey);
  const digest = type === 'MD5' ? createHash('md5').update(s, 'utf8') : createHmac('sha256', apiKey).update(s, 'utf8');
  return digest.digest('hex').toUpperCase();
}

/**
 * Whether `fields.sign` is the signature of the other fields with this key. The answer's
 * algorithm is the request's unless the answer names one; an unsigned answer is false.
 */
export function verifyV2(fields: V2Fields, apiKey: string, requestType: V2SignType): boolean {
  const given = fields.sign;
  if (!given) return false;
  const named = fields.sign_type;
  const type: V2SignType = named === 'HMAC-SHA256' || named === 'MD5' ? named : requestType;
  const want = Buffer.from(signV2(fields, apiKey, type));
  const got = Buffer.from(given.toUpperCase());
  return want.length === got.length && timingSafeEqual(want, got);
}
