/**
 * Decodes frames on a worker thread (decode-worker.ts), one frame at a time, so the
 * agent's event loop stays free for the POS and the payment machine however long a frame
 * takes. `zxing-wasm` reads better and faster; `zxing-js` (@zxing/library) stays for
 * machines where WebAssembly is unwelcome.
 */
import { Worker } from 'node:worker_threads';
import { ScanpayError, type ErrorCode } from '../../agent/errors.ts';
import type { Decoded, PixelFormat, RawFrame } from './frame.ts';

export type DecoderName = 'zxing-wasm' | 'zxing-js';

export interface DecodeRequest {
  id: number;
  data: ArrayBuffer;
  width: number;
  height: number;
  format: PixelFormat;
}

export type DecodeReply = { id: number; hit?: Decoded | undefined } | { id: number; error: { code: string | undefined; message: string } };

export class DecoderWorker {
  readonly #worker: Worker;
  readonly #ready: Promise<void>;
  readonly #pending = new Map<number, { resolve: (hit: Decoded | undefined) => void; reject: (e: ScanpayError) => void }>();
  #nextId = 1;
  #failed: ScanpayError | undefined;

  constructor(decoder: DecoderName) {
    this.#worker = new Worker(new URL('./decode-worker.mjs', import.meta.url), { workerData: { decoder } });
    this.#worker.unref();
    let ready!: () => void;
    this.#ready = new Promise((resolve) => (ready = resolve));
    this.#worker.on('message', (reply: DecodeReply) => {
      if (reply.id === 0) return ready();
      const waiter = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (!waiter) return;
      if ('error' in reply) waiter.reject(new ScanpayError((reply.error.code as ErrorCode | undefined) ?? 'SCAN_IMAGE_UNREADABLE', { message: reply.error.message }));
      else waiter.resolve(reply.hit);
    });
    const fail = (e: unknown) => {
      this.#failed = new ScanpayError('SCAN_DEVICE_IO', { message: `the decoder thread stopped: ${e instanceof Error ? e.message : String(e)}`, cause: e });
      ready();
      for (const w of this.#pending.values()) w.reject(this.#failed);
      this.#pending.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  /** Resolves once the decoder is loaded (the first frame would otherwise wait for it). */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** The first code in the frame, or undefined. The frame's bytes are copied, never moved. */
  async decode(frame: RawFrame): Promise<Decoded | undefined> {
    if (this.#failed) throw this.#failed;
    const id = this.#nextId++;
    const data = frame.data.buffer.slice(frame.data.byteOffset, frame.data.byteOffset + frame.data.byteLength) as ArrayBuffer;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, data, width: frame.width, height: frame.height, format: frame.format } satisfies DecodeRequest, [data]);
    });
  }

  async close(): Promise<void> {
    this.#failed ??= new ScanpayError('SCAN_DEVICE_IO', { message: 'the decoder was closed' });
    await this.#worker.terminate();
  }
}
