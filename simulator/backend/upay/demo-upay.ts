/**
 * The demo Upay vendor, activation code and terminal the simulated Upay gateway knows.
 *
 * DEMO CREDENTIALS ONLY: published in this repository, they protect nothing. A real vendor
 * gets its vendor_sn/vendor_key from Shouqianba offline; terminals get theirs at activation.
 */
export const DEMO_UPAY_VENDOR = { vendorSn: '91800000', vendorKey: 'scanpay-demo-vendor-key-0001', appId: '2026000000000001' } as const;
export const DEMO_UPAY_ACTIVATION_CODE = '88886666';
export const DEMO_UPAY_TERMINAL = { terminalSn: '100000000000000001', terminalKey: 'scanpay-demo-upay-terminal-key-1' } as const;
