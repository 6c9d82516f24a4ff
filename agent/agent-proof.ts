/**
 * Before a client sends the POS API token, the agent proves it holds it: an HMAC under
 * the token of the client's fresh challenge and of the port the agent was reached on. A
 * program squatting on the API port (the agent stopped) cannot answer; one relaying the
 * challenge to the real agent on another port gets a proof for the wrong port.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const PROOF_PATH = '/v1/agent/proof';
export const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function newChallenge(): string {
  return randomBytes(32).toString('base64url');
}

export function agentProof(token: string, challenge: string, port: number): string {
  return createHmac('sha256', token).update(`scanpay-agent-proof-v1\n${challenge}\n${port}`).digest('base64url');
}

export function proofMatches(token: string, challenge: string, port: number, given: unknown): boolean {
  const expected = Buffer.from(agentProof(token, challenge, port));
  return typeof given === 'string' && given.length === expected.length && timingSafeEqual(Buffer.from(given), expected);
}
