/**
 * Calls a simulator's control API whether it is plain HTTP (protocol v1) or HTTPS under the
 * demo CA (the WeChat simulators): `fetch` cannot be told about an extra CA.
 */
import axios from 'axios';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { DEMO_FILES } from './demo-merchant.ts';

let agent: https.Agent | undefined;

export async function controlRequest<T>(url: string, method: 'GET' | 'POST' | 'DELETE', body?: unknown): Promise<{ status: number; data: T }> {
  agent ??= new https.Agent({ ca: readFileSync(DEMO_FILES.ca) });
  const res = await axios.request<T>({ url, method, data: body, httpsAgent: agent, proxy: false, validateStatus: () => true, headers: body === undefined ? {} : { 'content-type': 'application/json' } });
  return { status: res.status, data: res.data };
}
