/**
 * Cuts a byte stream of fixed-size raw frames (ffmpeg's rawvideo, a recorded .gray file)
 * into frames. Each frame gets a buffer of its own, filled once from the pipe's chunks,
 * so it can be moved to the decoder thread without another copy; gluing chunks together
 * as they come would copy a 1280x720 frame a dozen times over on the agent's main thread.
 */
export class FrameCutter {
  readonly #frameBytes: number;
  #frame: Buffer;
  #filled = 0;

  constructor(frameBytes: number) {
    this.#frameBytes = frameBytes;
    this.#frame = this.#next();
  }

  /** The frames `chunk` completes, oldest first. */
  push(chunk: Uint8Array | Uint8ClampedArray): Uint8Array[] {
    const done: Uint8Array[] = [];
    // Buffer#copy, not TypedArray#set: ten times faster into a fresh buffer (measured, Node 20).
    const from = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let at = 0; at < from.length; ) {
      const n = Math.min(from.length - at, this.#frameBytes - this.#filled);
      from.copy(this.#frame, this.#filled, at, at + n);
      this.#filled += n;
      at += n;
      if (this.#filled === this.#frameBytes) {
        done.push(this.#frame);
        this.#frame = this.#next();
        this.#filled = 0;
      }
    }
    return done;
  }

  #next(): Buffer {
    // Not from Node's shared pool: the buffer must be the frame's alone to be moved.
    return Buffer.allocUnsafeSlow(this.#frameBytes);
  }
}
