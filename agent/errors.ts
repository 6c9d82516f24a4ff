/**
 * The one error catalog. Codes are stable: POS integrations, logs and support tickets
 * refer to them. Every code is documented in docs/errors.md (a test keeps them in step).
 */
export interface ErrorSpec {
  message: string;
  /** Whether trying the same thing again later can succeed. */
  retryable: boolean;
  /** HTTP status when the error crosses an API boundary. */
  status: number;
}

export const ERRORS = {
  // Payment codes and payments
  PAY_CODE_NOT_PAYMENT: { message: 'the scanned text is not a payment code', retryable: false, status: 422 },
  PAY_CODE_PRODUCT_BARCODE: { message: 'this is a product barcode, not a payment code: ask the customer for the payment code in their wallet app', retryable: false, status: 422 },
  PAY_CODE_CARD_NUMBER: { message: 'this looks like a bank card number, not a payment code', retryable: false, status: 422 },
  PAY_CODE_DUPLICATE: { message: 'this payment code was already submitted: ask the customer to refresh the code', retryable: false, status: 409 },
  PAY_AMOUNT_INVALID: { message: 'amount must be a positive integer of minor units within the limit', retryable: false, status: 422 },
  PAY_CURRENCY_INVALID: { message: 'currency must be a three-letter ISO 4217 code', retryable: false, status: 422 },
  PAY_NOT_FOUND: { message: 'no payment with this order number', retryable: false, status: 404 },
  PAY_ALREADY_FINAL: { message: 'the payment has already ended', retryable: false, status: 409 },
  PAY_ORDER_ID_CONFLICT: { message: 'this POS order id was already used for a different payment', retryable: false, status: 409 },
  PAY_NOT_REFUNDABLE: { message: 'only a paid payment can be refunded', retryable: false, status: 409 },
  PAY_REFUND_EXCEEDS: { message: 'the refunds would exceed the amount paid', retryable: false, status: 422 },
  PAY_REFUND_CONFLICT: { message: 'this refund id was already used for a different refund', retryable: false, status: 409 },
  PAY_WALLET_DISABLED: { message: 'the acquirer has not enabled this wallet on this terminal', retryable: false, status: 422 },
  PAY_SETTLEMENT_BLOCKED: { message: 'payments or refunds are still under way: settle once they have ended', retryable: true, status: 409 },

  // Acquiring backend
  BACKEND_NOT_SENT: { message: 'the backend could not be reached; the request never left the device', retryable: true, status: 503 },
  BACKEND_UNKNOWN: { message: 'no verified answer from the backend: the outcome is unknown', retryable: true, status: 504 },
  BACKEND_SIGNATURE_INVALID: { message: 'the answer failed signature verification and was treated as no answer', retryable: true, status: 502 },
  BACKEND_MALFORMED: { message: 'the answer could not be understood and was treated as no answer', retryable: true, status: 502 },
  BACKEND_HTTP_STATUS: { message: 'the backend answered with an unexpected HTTP status', retryable: true, status: 502 },
  BACKEND_CLIENT_CERT_EXPIRED: { message: 'the merchant API certificate has expired or is not yet valid: nothing was sent; install a new one (docs/acquirers/wechat.md)', retryable: true, status: 503 },

  // Journal
  JOURNAL_OPEN_FAILED: { message: 'the journal database could not be opened', retryable: false, status: 500 },
  JOURNAL_WRITE_FAILED: { message: 'the journal could not be written (disk full or read-only?): nothing was sent', retryable: true, status: 507 },
  JOURNAL_MIGRATION_FAILED: { message: 'the journal schema could not be brought up to date', retryable: false, status: 500 },
  JOURNAL_QUEUE_ITEM_NOT_FOUND: { message: 'no waiting or dead queue item with this id: `scanpay queue` lists them', retryable: false, status: 404 },
  JOURNAL_LOCKED: { message: 'another agent is running on this $SCANPAY_HOME and holds its journal', retryable: false, status: 409 },

  // Configuration
  CONFIG_INVALID: { message: 'the configuration is invalid', retryable: false, status: 500 },
  CONFIG_TERMINAL_MISSING: { message: 'this device has no terminal identity: provision it, or run with --demo', retryable: false, status: 500 },
  CONFIG_ACTIVATION_REFUSED: { message: 'the backend refused the activation code: check it, or ask the acquirer for a new one', retryable: false, status: 401 },
  CONFIG_PROVISION_UNSAFE: { message: 'this device still has unfinished payments or queued items: finish them, or pass --force (nothing queued is discarded)', retryable: true, status: 409 },
  CONFIG_PARAMS_INVALID: { message: 'the parameters from the backend are invalid: the last good set stays in use', retryable: false, status: 422 },
  CONFIG_BACKEND_CLEARTEXT: { message: 'the acquirer URL is plain http:// off this machine: use https://', retryable: false, status: 500 },
  CONFIG_WECHAT_CREDENTIALS: { message: 'a WeChat Pay credential (backend.wechat in config.json) is missing or wrong', retryable: false, status: 500 },
  CONFIG_KEY_ROTATION_FAILED: { message: 'the key rotation could not be completed: the current key stays in use', retryable: true, status: 502 },

  // Local POS API (agent/pos-api/) and its clients
  API_UNAUTHORIZED: { message: 'missing or wrong bearer token: `scanpay token` prints it', retryable: false, status: 401 },
  API_BAD_REQUEST: { message: 'the request is not valid', retryable: false, status: 400 },
  API_NOT_FOUND: { message: 'no such endpoint', retryable: false, status: 404 },
  API_BODY_TOO_LARGE: { message: 'the request body is too large', retryable: false, status: 413 },
  API_UNSUPPORTED_MEDIA_TYPE: { message: 'the request body must be JSON (content-type: application/json)', retryable: false, status: 415 },
  API_PAYMENT_ACTIVE: { message: 'a payment is already active on this lane: wait for it to end or cancel it', retryable: true, status: 409 },
  API_LANE_UNKNOWN: { message: 'no lane with this id', retryable: false, status: 404 },
  API_NO_VIRTUAL_SCANNER: { message: 'this lane has no virtual scanner to scan with', retryable: false, status: 409 },
  API_LANE_NO_SCANNER: { message: 'this lane has no scanner, so a payment cannot wait for its scan: send the payment code with the payment', retryable: false, status: 409 },
  API_SHUTTING_DOWN: { message: 'the agent is shutting down: try again once it is back', retryable: true, status: 503 },
  API_INTERNAL: { message: 'the agent failed unexpectedly; the journal still says where every payment stands', retryable: true, status: 500 },
  API_AGENT_MISMATCH: { message: 'the agent found is not the one for this SCANPAY_HOME: it could not prove it holds this home\'s API token, so nothing was sent to it', retryable: false, status: 503 },
  API_AGENT_UNREACHABLE: { message: 'the scanpay agent is not reachable: is `scanpay run` running?', retryable: true, status: 503 },

  // Protocol (shared by the agent and the simulated backend)
  PROTO_SIGNATURE_MISSING: { message: 'the message carries no signature', retryable: false, status: 401 },
  PROTO_SIGNATURE_INVALID: { message: 'the signature does not match', retryable: false, status: 401 },
  PROTO_TIMESTAMP_SKEW: { message: 'the timestamp is outside the accepted window: check the device clock', retryable: false, status: 401 },
  PROTO_NONCE_REUSED: { message: 'the nonce was already used (replay)', retryable: false, status: 401 },
  PROTO_UNKNOWN_TERMINAL: { message: 'the terminal is not known to the backend', retryable: false, status: 401 },
  PROTO_BAD_REQUEST: { message: 'the request body is not valid for this operation', retryable: false, status: 400 },
  PROTO_ROTATION_REFUSED: { message: 'no new key: the backend did not ask for a rotation, or the request was not signed with the current key', retryable: false, status: 403 },
  PROTO_NONCE_TOO_OLD: { message: 'the message is timestamped at or before a nonce the full replay cache had to forget, so it cannot be told from a replay: sign it again', retryable: true, status: 401 },

  // Simulated backend (simulator/)
  SIM_CONTROL_INVALID: { message: 'the control request is not valid', retryable: false, status: 400 },
  SIM_CONTROL_FORBIDDEN: { message: 'the simulator answers only requests from this machine\'s own tools and page', retryable: false, status: 403 },
  SIM_ORDER_UNKNOWN: { message: 'the simulated backend has no such order', retryable: false, status: 404 },
  SIM_FAULT_INJECTED: { message: 'an injected fault answered this call', retryable: true, status: 503 },
  SIM_SCENARIO_INVALID: { message: 'the scenario file is not valid', retryable: false, status: 400 },
  SIM_NO_CODE_IN_IMAGE: { message: 'no barcode or QR code was found in the image', retryable: false, status: 422 },

  // Scanners
  SCAN_SOURCE_SPEC_INVALID: { message: 'the scanner source spec is invalid', retryable: false, status: 400 },
  SCAN_FRAME_TOO_LONG: { message: 'the scanned frame is longer than any code scanpay accepts: skipped', retryable: false, status: 422 },
  SCAN_FRAME_INVALID: { message: 'the scanned frame contains control characters or is malformed: skipped', retryable: false, status: 422 },
  SCAN_DEVICE_NOT_FOUND: { message: 'the scanner is not connected', retryable: true, status: 503 },
  SCAN_DEVICE_ACCESS_DENIED: { message: 'this user may not open the scanner: add a udev rule', retryable: false, status: 503 },
  SCAN_DEVICE_DISCONNECTED: { message: 'the scanner went away: reconnecting', retryable: true, status: 503 },
  SCAN_DEVICE_IO: { message: 'reading from or writing to the scanner failed', retryable: true, status: 503 },
  SCAN_NATIVE_LIBRARY_MISSING: { message: 'a system library the scanner driver needs is not installed', retryable: false, status: 500 },
  SCAN_FRAME_INCOMPLETE: { message: 'the scanner went away in the middle of a code: scan it again', retryable: false, status: 422 },
  SCAN_IMAGE_UNREADABLE: { message: 'the image is not a readable PNG, JPEG or raw frame', retryable: false, status: 422 },

  // Start-up and exports
  API_PORT_IN_USE: { message: 'the POS API port is taken by another process: stop it, or start with --port N', retryable: true, status: 503 },
  JOURNAL_EXPORT_UNWRITABLE: { message: 'the export file could not be written where asked', retryable: false, status: 500 },
  // Faults of the device itself (issue 12): a lost journal, a wrong clock
  JOURNAL_IDENTITY_MISMATCH: { message: 'this is not the journal this device recorded its payments in (deleted, emptied or replaced): keep every file and run `scanpay recover`', retryable: false, status: 500 },
  JOURNAL_ROLLED_BACK: { message: 'the journal lost payments it had recorded (its -wal file deleted, or restored from an old copy): keep every file and run `scanpay recover`', retryable: false, status: 500 },
  BACKEND_CLOCK_SKEW: { message: 'the backend refused the request because this device\'s clock is wrong: fix the clock (NTP); the outcome is checked again', retryable: true, status: 502 },
  BACKEND_ORDER_FORGOTTEN: { message: 'the acquirer says it does not know an order it had acknowledged: the payment stays unknown and is reversed, never assumed unpaid', retryable: true, status: 502 },
  PAY_FOLLOW_UP_OVERDUE: { message: 'a reversal or refund has waited past its maximum age: the customer may still be charged; it is still being tried', retryable: true, status: 503 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class ScanpayError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly status: number;
  /** What came in when it went wrong (masked where it may hold a payment code). */
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, options: { message?: string; cause?: unknown; detail?: Record<string, unknown> } = {}) {
    const spec: ErrorSpec = ERRORS[code];
    super(options.message ?? spec.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ScanpayError';
    this.code = code;
    this.retryable = spec.retryable;
    this.status = spec.status;
    this.detail = options.detail;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, retryable: this.retryable, ...(this.detail ? { detail: this.detail } : {}) };
  }
}

export function isScanpayError(e: unknown, code?: ErrorCode): e is ScanpayError {
  return e instanceof ScanpayError && (code === undefined || e.code === code);
}
