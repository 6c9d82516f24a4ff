/**
 * A HidDevice that plays back recorded input reports: the stand-in for a real scanner in
 * tests and in the simulator. Reports are delivered when `play` is called, the way the
 * real device delivers them, so the source cannot tell the difference.
 */
import { ScanpayError } from '../../agent/errors.ts';
import type { HidDevice, OpenHid } from './hid-device.ts';

export class RecordedHidDevice implements HidDevice {
  readonly written: Buffer[] = [];
  #onReport: Array<(report: Buffer) => void> = [];
  #onLost: Array<(error: ScanpayError) => void> = [];
  #open = true;

  onReport(listener: (report: Buffer) => void): void {
    this.#onReport.push(listener);
  }

  onLost(listener: (error: ScanpayError) => void): void {
    this.#onLost.push(listener);
  }

  async write(bytes: Buffer): Promise<void> {
    this.written.push(Buffer.from(bytes));
  }

  async close(): Promise<void> {
    this.#open = false;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  play(reports: Iterable<Buffer>): void {
    for (const report of reports) for (const l of this.#onReport) l(report);
  }

  unplug(): void {
    this.#open = false;
    for (const l of this.#onLost) l(new ScanpayError('SCAN_DEVICE_DISCONNECTED', { message: 'recorded device unplugged' }));
  }

  /** An OpenHid that hands out this device. */
  opener(): OpenHid {
    return async () => {
      this.#open = true;
      return this;
    };
  }
}
