/** The demo app's credentials (simulator/backend/alipay/demo-keys.ts), for demo mode and tests. */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { DEMO_ALIPAY_APP_ID, DEMO_ALIPAY_PUBLIC_KEY, DEMO_APP_PRIVATE_KEY } from '../../../simulator/backend/alipay/demo-keys.ts';
import type { AlipayCredentials } from './alipay-acquirer.ts';

export function demoAlipayCredentials(): AlipayCredentials {
  return { appId: DEMO_ALIPAY_APP_ID, appPrivateKey: createPrivateKey(DEMO_APP_PRIVATE_KEY), alipayPublicKey: createPublicKey(DEMO_ALIPAY_PUBLIC_KEY) };
}
