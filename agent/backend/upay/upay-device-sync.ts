/**
 * The Upay terminal's daily routine in the running agent: check in once per Beijing day
 * (before the day's first payment where possible) to rotate the key, then upload the
 * day's support bundle as the log. A failed check-in keeps the current key (still valid)
 * and is retried; nothing here can stop a payment.
 */
import { gzipSync } from 'node:zlib';
import type { Clock } from '../../clock.ts';
import type { Logger } from '../../log.ts';
import { beijingDay } from '../alipay/beijing-time.ts';
import type { UpayCredentials } from './upay-acquirer.ts';
import { readUpayTerminal, writeUpayTerminal, type UpayTerminalClient, type UpayTerminalRecord } from './upay-terminal.ts';

export interface UpayDeviceSyncOptions {
  home: string;
  client: UpayTerminalClient;
  clock: Clock;
  logger: Logger;
  /** The support bundle to upload as the day's log (already scrubbed). */
  logBundle: () => Promise<Record<string, unknown>>;
  /** How often to look whether a new day has begun, or to retry a failed check-in. */
  everyMs?: number;
}

export class UpayDeviceSync {
  readonly #o: UpayDeviceSyncOptions;
  #record: UpayTerminalRecord;
  #timer: unknown;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(o: UpayDeviceSyncOptions, record: UpayTerminalRecord) {
    this.#o = o;
    this.#record = record;
  }

  /** What requests are signed with right now. */
  credentials(): UpayCredentials {
    return { terminalSn: this.#record.terminalSn, terminalKey: this.#record.terminalKey };
  }

  start(): void {
    void this.tick();
  }

  stop(): Promise<void> {
    this.#stopped = true;
    this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#running ?? Promise.resolve();
  }

  /** One round: check in if today has none, upload the log if today has none. */
  tick(): Promise<void> {
    this.#stopped = false;
    this.#running ??= this.#round().finally(() => {
      this.#running = undefined;
      // A round that ends after stop() schedules nothing: the agent must be free to exit.
      if (!this.#stopped) this.#timer = this.#o.clock.setTimeout(() => void this.tick(), this.#o.everyMs ?? 15 * 60_000);
    });
    return this.#running;
  }

  async #round(): Promise<void> {
    // `log`, the name the mutation run's log ignorer knows: a log line decides nothing (docs/testing.md).
    const { clock, client, logger: log } = this.#o;
    const today = beijingDay(clock.now());
    const r = this.#record;
    if (r.checkedInAt === undefined || beijingDay(r.checkedInAt) !== today) {
      try {
        const next = await client.checkin(this.credentials(), r.deviceId);
        // On disk before it signs anything: a power cut now still finds a valid key.
        this.#record = { ...r, terminalKey: next.terminalKey, previousKey: r.terminalKey, checkedInAt: clock.now() };
        writeUpayTerminal(this.#o.home, this.#record);
        log.info({ terminalSn: r.terminalSn }, 'Upay check-in: terminal key rotated');
      } catch (err) {
        // The current key stays valid (Upay keeps the previous one); try again next round.
        log.warn({ err }, 'Upay check-in failed; the current key stays in use');
        return;
      }
    }
    const uploaded = this.#record.logsUploadedAt;
    if (uploaded === undefined || beijingDay(uploaded) !== today) {
      try {
        await client.uploadLog(this.credentials(), gzipSync(JSON.stringify(await this.#o.logBundle())));
        this.#record = { ...(readUpayTerminal(this.#o.home) ?? this.#record), logsUploadedAt: clock.now() };
        writeUpayTerminal(this.#o.home, this.#record);
      } catch (err) {
        log.warn({ err }, 'Upay log upload failed; will try again');
      }
    }
  }
}
