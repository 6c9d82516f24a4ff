/**
 * The HTTP client the WeChat Pay, Alipay and Upay adapters send through: axios, the
 * project's HTTP client, with the settings every acquirer exchange needs: the raw answer
 * bytes (a signature covers them, so nothing may parse or transform them first), every
 * status handed back for the caller to judge, no redirects or proxies, and answers capped
 * at 64 KiB. Node's http adapter, named: the build leaves axios's fetch adapter out
 * (scripts/build.mjs), so sources and bundle send alike. Protocol v1, the hot path, does not
 * use it: it sends on node's own http (protocol-http.ts says why).
 *
 * axios (with follow-redirects, form-data and mime-db's table: 270 KB in the bundle) is
 * loaded by the first call, not when `scanpay run` starts: the agent is ready sooner and an
 * agent that has not paid yet does not hold it. The first call waits for the load once
 * (after its journal row is written, before anything is sent).
 */
import type { AxiosError, AxiosInstance, AxiosRequestConfig, AxiosResponse, CreateAxiosDefaults } from 'axios';

const MAX_ANSWER_BYTES = 64 * 1024;

/** The calls the adapters make on an axios instance. */
export interface AxiosHttp {
  post(url: string, data: unknown, config?: AxiosRequestConfig): Promise<AxiosResponse>;
  request: AxiosInstance['request'];
}

export function createAxiosHttp(baseUrl: string, extra: Pick<CreateAxiosDefaults, 'timeout' | 'httpAgent' | 'httpsAgent'> = {}): AxiosHttp {
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
    post: async (url, data, config) => (await http()).post(url, data, config),
    request: async (config) => (await http()).request(config),
  };
}

/** `instanceof AxiosError` without loading axios: its own `isAxiosError` test. */
export function isAxiosError(e: unknown): e is AxiosError {
  return typeof e === 'object' && e !== null && (e as { isAxiosError?: unknown }).isAxiosError === true;
}
