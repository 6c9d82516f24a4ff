/**
 * A POS API request's body: JSON only, at most `limit` bytes. What a client may get wrong
 * ends in a catalog error (the messages Fastify gave before the API moved to node:http).
 */
import type { IncomingMessage } from 'node:http';
import { ScanpayError } from '../errors.ts';

const badBody = (message: string) => new ScanpayError('API_BAD_REQUEST', { message: `body: ${message}`, detail: { field: 'body' } });

/**
 * A JSON `__proto__` key, or a `constructor` holding a `prototype`, is refused as
 * secure-json-parse (Fastify's parser) refused it: no later merge of the body can reach a prototype.
 */
const PROTO_KEY = /"(?:__proto__|constructor)"/;
function parseJson(text: string): unknown {
  if (!PROTO_KEY.test(text)) return JSON.parse(text);
  return JSON.parse(text, (key, value: unknown) => {
    if (key === '__proto__' || (key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value)) throw new Error('forbidden prototype property');
    return value;
  });
}

/** Whether the request says it carries a body (a length above 0, or chunks). */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
}

/**
 * The parsed body, or undefined when none was sent. Rejects with API_UNSUPPORTED_MEDIA_TYPE
 * (a body that is not `application/json`), API_BODY_TOO_LARGE (the declared or the received
 * length over `limit`; the connection then closes rather than read the rest) or API_BAD_REQUEST.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'];
  if (!hasBody(req) && type === undefined) return undefined;
  if (type === undefined || type.split(';')[0]!.trim().toLowerCase() !== 'application/json') throw new ScanpayError('API_UNSUPPORTED_MEDIA_TYPE');
  const tooLarge = () => new ScanpayError('API_BODY_TOO_LARGE', { message: `the request body exceeds ${limit} bytes` });
  if (Number(req.headers['content-length']) > limit) throw tooLarge();
  // Listeners, not `for await`: leaving an async iteration early destroys the socket before the 413 is written.
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Every listener goes once the body is in or refused: the request's 'close' comes after
    // every response, and it built a BAD_REQUEST error (with its stack) for nothing.
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', stop);
      req.off('close', onClose);
    };
    const stop = (e: Error) => {
      done();
      req.pause();
      reject(e);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) stop(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks, size));
    };
    const onClose = () => stop(badBody('the request ended before its body did'));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', stop);
    req.once('close', onClose);
  });
  if (body.length === 0) throw badBody("Body cannot be empty when content-type is set to 'application/json'");
  try {
    return parseJson(body.toString('utf8'));
  } catch {
    throw badBody("Body is not valid JSON but content-type is set to 'application/json'");
  }
}
