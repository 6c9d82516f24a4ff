/**
 * The terminal every simulated backend knows unless told otherwise.
 *
 * DEMO KEY ONLY: it is published in this repository, so it protects nothing. Real
 * terminals get their keys at activation; never configure this key against a real gateway.
 */
export const DEMO_TERMINAL: { readonly terminalId: 'T0000001'; readonly key: Buffer } = {
  terminalId: 'T0000001',
  key: Buffer.from('scanpay-demo-terminal-key-0001'),
};
