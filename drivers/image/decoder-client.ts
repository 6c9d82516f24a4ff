/**
 * Decodes frames on a worker thread (decode-worker.ts), so the agent's event loop stays
 * free for the POS and the payment machine however long a frame takes. Nothing that grows
 * with the frame runs on the caller's thread: image files are read and decoded there too,
 * a frame the caller gives up is moved, not copied, and its size is checked there.
 * `zxing-wasm` reads better and faster; `zxing-js` (@zxing/library) stays for machines
 * where WebAssembly is unwelcome.
 */
import { Worker } from 'node:worker_threads';
import { ScanpayError, type ErrorCode } from '../../agent/errors.ts';
import type { Decoded, PixelFormat, RawFrame } from './frame.ts';

export type DecoderName = 'zxing-wasm' | 'zxing-js';

/** How far below the agent's main thread the decoder thread runs, in nice levels. */
export const DECODER_NICER_BY = 10;

export type DecodeRequest =
  | { id: number; kind: 'frame'; data: ArrayBuffer; width: number; height: number; format: PixelFormat }
  | { id: number; kind: 'file'; path: string };

export type DecodeReply = { id: number; hit?: Decoded | undefined } | { id: number; error: { code: string | undefined; message: string } };

export class DecoderWorker {
  readonly #worker: Worker;
  readonly #ready: Promise<void>;
  readonly #pending = new Map<number, { resolve: (hit: Decoded | undefined) => void; reject: (e: ScanpayError) => void }>();
  #nextId = 1;
  #failed: ScanpayError | undefined;

  /** `nicerBy`: Linux nice levels the decoder thread runs below the caller's (decode-worker.ts). */
  constructor(decoder: DecoderName, o: { nicerBy?: number } = {}) {
    this.#worker = new Worker(new URL('./decode-worker.mjs', import.meta.url), { workerData: { decoder, nicerBy: o.nicerBy ?? DECODER_NICER_BY } });
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

  /**
   * The first code in the frame, or undefined. With `move`, a frame that has its buffer to
   * itself (as FrameCutter's do) is moved to the decoder thread and unusable here after;
   * any other frame's bytes are copied.
   */
  decode(frame: RawFrame, o: { move?: boolean } = {}): Promise<Decoded | undefined> {
    const { data: bytes, width, height, format } = frame;
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
    const data = o.move && whole ? (bytes.buffer as ArrayBuffer) : (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    return this.#request({ id: this.#nextId++, kind: 'frame', data, width, height, format }, [data]);
  }

  /** The first code in a PNG or JPEG file, read and decoded on the decoder thread. */
  decodeFile(path: string): Promise<Decoded | undefined> {
    return this.#request({ id: this.#nextId++, kind: 'file', path }, []);
  }

  async #request(request: DecodeRequest, transfer: ArrayBuffer[]): Promise<Decoded | undefined> {
    if (this.#failed) throw this.#failed;
    return new Promise((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject });
      this.#worker.postMessage(request, transfer);
    });
  }

  async close(): Promise<void> {
    this.#failed ??= new ScanpayError('SCAN_DEVICE_IO', { message: 'the decoder was closed' });
    await this.#worker.terminate();
  }
}
