/**
 * The HTTP client settings every protocol v1 call needs, payments and device operations
 * alike: the raw answer bytes (the signature covers them, so nothing may parse or
 * transform them first), every status handed back for the caller to judge, no redirects or
 * proxies, and answers capped at the protocol's 64 KiB. Node's http adapter, named: the
 * build leaves axios's fetch adapter out (scripts/build.mjs), so sources and bundle send alike.
 */
import axios, { type AxiosInstance, type CreateAxiosDefaults } from 'axios';

const MAX_ANSWER_BYTES = 64 * 1024;

export function createProtocolHttp(baseUrl: string, extra: Pick<CreateAxiosDefaults, 'timeout' | 'httpAgent' | 'httpsAgent'> = {}): AxiosInstance {
  return axios.create({
    baseURL: baseUrl.replace(/\/+$/, ''),
    responseType: 'arraybuffer',
    transformResponse: [(d: unknown) => d],
    validateStatus: () => true,
    maxRedirects: 0,
    maxContentLength: MAX_ANSWER_BYTES,
    proxy: false,
    adapter: 'http',
    ...extra,
  });
}
