/**
 * `scanpay doctor` for an acquirer other than protocol v1: the identity it signs with can be
 * loaded, and one real signed round trip (a query of an order that cannot exist) comes back
 * verified, which proves the URL, the keys and the clock together.
 */
import { systemClock, type Clock } from '../clock.ts';
import type { AgentConfig } from '../config.ts';
import type { Check } from '../doctor.ts';
import { createAcquirer, loadAcquirerTerminal } from './create-acquirer.ts';

export async function acquirerChecks(home: string, config: AgentConfig, clock: Clock = systemClock): Promise<Check[]> {
  const protocol = config.backend.protocol;
  let setup;
  try {
    const terminal = await loadAcquirerTerminal(home, config, false);
    if (!config.backend.url) throw new Error('backend.url is not set');
    setup = await createAcquirer({ config, home, backendUrl: config.backend.url, terminal, clock });
  } catch (e) {
    const detail = (e as Error).message;
    const fix = protocol === 'upay' ? 'scanpay provision --protocol upay --backend URL --activation-code CODE' : 'set backend.url and backend.alipay (docs/acquirers/alipay.md)';
    return [{ name: 'terminal identity', status: 'fail', detail, fix }, { name: 'signature round trip', status: 'fail', detail: 'not checked: no identity', fix }];
  }
  const identity: Check = { name: 'terminal identity', status: 'pass', detail: `${protocol} credentials load (keys owner-only)` };
  const r = await setup.acquirer.query({ orderNo: `DOCTOR${clock.now()}` });
  // The only right answer to a query of an order that cannot exist: "no such order".
  if (r.kind === 'answer' && r.body.reasonCode === 'ORDER_NOT_FOUND') {
    return [identity, { name: 'signature round trip', status: 'pass', detail: `${config.backend.url} answered a signed query in ${r.latencyMs} ms` }];
  }
  if (r.kind === 'answer') {
    return [identity, { name: 'signature round trip', status: 'fail', detail: `the gateway refused a signed query: ${r.body.reasonCode ?? r.body.result} ${r.body.reasonMessage ?? ''}`.trim(), fix: 'check the keys (re-provision, or the app keys in backend.alipay) and the clock' }];
  }
  const fix = r.kind === 'not_sent' ? `check the network and that ${config.backend.url} is up` : 'check the keys, the gateway URL and the clock (timedatectl status)';
  return [identity, { name: 'signature round trip', status: 'fail', detail: `${r.error.code}: ${r.error.message}`, fix }];
}
