/**
 * The HTTP client settings every protocol v1 call needs, payments and device operations
 * alike: the raw answer bytes (the signature covers them, so nothing may parse or
 * transform them first), every status handed back for the caller to judge, no redirects or
 * proxies, and answers capped at the protocol's 64 KiB. Node's http adapter, named: the
 * build leaves axios's fetch adapter out (scripts/build.mjs), so sources and bundle send alike.
 *
 * axios (with follow-redirects, form-data and mime-db's table: 270 KB in the bundle) is
 * loaded by the first call, not when `scanpay run` starts: the agent is ready sooner and an
 * agent that has not paid yet does not hold it. The first call waits for the load once
 * (after its journal row is written, before anything is sent).
 */
import http from 'node:http';
import https from 'node:https';
import type { AxiosError, AxiosInstance, AxiosRequestConfig, AxiosResponse, CreateAxiosDefaults } from 'axios';

const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * The calls the clients make on an axios instance. `deadlineMs`: one wall-clock deadline
 * over the whole exchange (an abort signal), counted from the send, not from the first
 * call's wait for axios to load.
 */
export interface ProtocolHttp {
  post(url: string, data: unknown, config?: AxiosRequestConfig & { deadlineMs?: number }): Promise<AxiosResponse>;
  request: AxiosInstance['request'];
}

export function createProtocolHttp(baseUrl: string, extra: Pick<CreateAxiosDefaults, 'timeout' | 'httpAgent' | 'httpsAgent'> = {}): ProtocolHttp {
  let instance: Promise<AxiosInstance> | undefined;
  const http = () =>
    (instance ??= import('axios').then(({ default: axios }) =>
      axios.create({
        baseURL: baseUrl.replace(/\/+$/, ''),
        responseType: 'arraybuffer',
        transformResponse: [(d: unknown) => d],
        validateStatus: () => true,
        maxRedirects: 0,
        maxContentLength: MAX_ANSWER_BYTES,
        proxy: false,
        adapter: 'http',
        ...extra,
      }),
    ));
  return {
    post: async (url, data, config = {}) => {
      const { deadlineMs, ...rest } = config;
      const client = await http();
      return client.post(url, data, deadlineMs === undefined ? rest : { ...rest, signal: AbortSignal.timeout(deadlineMs) });
    },
    request: async (config) => (await http()).request(config),
  };
}

/**
 * A gateway client's connection pools, alike over http and https: kept alive, at most
 * `maxSockets` open to the gateway, and an idle one closed after `idleMs` (before the
 * gateway closes it under a request: see IDLE_SOCKET_MS in http-acquirer.ts).
 */
export function keptAliveAgents(idleMs: number, maxSockets = Infinity): Pick<CreateAxiosDefaults, 'httpAgent' | 'httpsAgent'> {
  const options: http.AgentOptions = { keepAlive: true, timeout: idleMs, maxSockets };
  return { httpAgent: new http.Agent(options), httpsAgent: new https.Agent(options) };
}

/** `instanceof AxiosError` without loading axios: its own `isAxiosError` test. */
export function isAxiosError(e: unknown): e is AxiosError {
  return typeof e === 'object' && e !== null && (e as { isAxiosError?: unknown }).isAxiosError === true;
}
