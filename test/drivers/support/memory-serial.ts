/** An in-memory SerialLink for tests that need the serial driver without a tty. */
import { ScanpayError } from '../../../agent/errors.ts';
import type { OpenSerial, SerialLink } from '../../../drivers/serial/serial-port.ts';

export class MemorySerial implements SerialLink {
  readonly written: Buffer[] = [];
  #onData: Array<(chunk: Buffer) => void> = [];
  #onLost: Array<(error: ScanpayError) => void> = [];

  onData(listener: (chunk: Buffer) => void): void {
    this.#onData.push(listener);
  }

  onLost(listener: (error: ScanpayError) => void): void {
    this.#onLost.push(listener);
  }

  async write(bytes: Buffer): Promise<void> {
    this.written.push(bytes);
  }

  async close(): Promise<void> {}

  send(chunk: Buffer): void {
    for (const l of this.#onData) l(chunk);
  }

  unplug(): void {
    for (const l of this.#onLost) l(new ScanpayError('SCAN_DEVICE_DISCONNECTED', { message: 'memory link unplugged' }));
  }

  opener(): OpenSerial {
    return async () => this;
  }
}
