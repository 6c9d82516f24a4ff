/**
 * A camera-like source: decodes frames and emits what it finds. Frames come from image
 * files (one file, or a directory read in name order, as a capture tool writes a
 * sequence) or from a raw stream of fixed-size grayscale/RGBA frames on a file, a named
 * pipe or stdin (e.g. `ffmpeg ... -f rawvideo -pix_fmt gray -`). When the input ends the
 * source reports `disconnected` with `ended`, since there is nothing to reconnect to.
 * Files and frames are decoded on a worker thread, one after another: none is skipped,
 * the input waiting for the decoder (a recording, unlike a live camera, loses nothing by
 * waiting). This thread only cuts the stream into frames and hands each over.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Clock } from '../../agent/clock.ts';
import { ScanpayError, isScanpayError } from '../../agent/errors.ts';
import { Emitter, type Feedback, type ScannerSource, type SourceEvents } from '../source.ts';
import { DecoderWorker, type DecoderName } from './decoder-client.ts';
import { FrameCutter } from './frame-cutter.ts';
import { BYTES_PER_PIXEL, type PixelFormat, type RawFrame } from './frame.ts';
import { IMAGE_EXTENSIONS } from './image-file.ts';

export type FrameInput =
  | { kind: 'images'; path: string }
  | { kind: 'raw'; path: string; width: number; height: number; format: PixelFormat };

export interface FrameSourceOptions {
  id: string;
  input: FrameInput;
  decoder: DecoderName;
}

export interface FrameDeps {
  clock: Clock;
  /** Where `-` reads from; the CLI passes process.stdin. */
  stdin?: Readable;
}

export class FrameSource implements ScannerSource {
  readonly id: string;
  readonly #input: FrameInput;
  readonly #clock: Clock;
  readonly #stdin: Readable | undefined;
  readonly #decoderName: DecoderName;
  #decoder: DecoderWorker | undefined;
  readonly #events = new Emitter<SourceEvents>();
  #stream: Readable | undefined;
  #running = false;
  #opening: symbol | undefined;

  constructor(options: FrameSourceOptions, deps: FrameDeps) {
    this.id = options.id;
    this.#input = options.input;
    this.#decoderName = options.decoder;
    this.#clock = deps.clock;
    this.#stdin = deps.stdin;
  }

  on<K extends keyof SourceEvents>(event: K, listener: (e: SourceEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async open(): Promise<void> {
    if (this.#running) return;
    const frames = this.#input.kind === 'images' ? await this.#imageFrames(this.#input.path) : this.#rawFrames(this.#input);
    const decoder = new DecoderWorker(this.#decoderName);
    const opening = (this.#opening = Symbol('opening'));
    // Loaded before `connected`, as a camera's decoder is, so no frame waits behind the load.
    await decoder.ready();
    if (this.#opening !== opening) return void (await decoder.close()); // closed meanwhile
    this.#decoder = decoder;
    this.#running = true;
    this.#events.emit('status', { source: this.id, status: 'connected', at: this.#clock.now() });
    void this.#run(frames);
  }

  async close(): Promise<void> {
    this.#opening = undefined;
    this.#running = false;
    this.#stream?.destroy();
    this.#stream = undefined;
    await this.#stopDecoder();
  }

  async #stopDecoder(): Promise<void> {
    const decoder = this.#decoder;
    this.#decoder = undefined;
    await decoder?.close();
  }

  async feedback(_kind: Feedback): Promise<boolean> {
    return false;
  }

  async #run(frames: AsyncIterable<RawFrame> | string[]): Promise<void> {
    try {
      for await (const frame of frames) {
        if (!this.#running) return;
        await this.#decodeOne(frame);
      }
    } catch (e) {
      const error = isScanpayError(e) ? e : new ScanpayError('SCAN_DEVICE_IO', { message: `${this.id}: ${e instanceof Error ? e.message : String(e)}`, cause: e });
      this.#events.emit('status', { source: this.id, status: 'error', at: this.#clock.now(), error });
    }
    if (!this.#running) return;
    this.#running = false;
    await this.#stopDecoder();
    this.#events.emit('status', { source: this.id, status: 'disconnected', at: this.#clock.now(), ended: true });
  }

  /** A frame, or the path of an image file the decoder thread reads. */
  async #decodeOne(frame: RawFrame | string): Promise<void> {
    try {
      const hit = typeof frame === 'string' ? await this.#decoder!.decodeFile(frame) : await this.#decoder!.decode(frame, { move: true });
      if (!this.#running) return;
      if (hit) this.#events.emit('scan', { text: hit.text, symbology: hit.symbology, source: this.id, at: this.#clock.now(), raw: Buffer.from(hit.text, 'utf8') });
    } catch (e) {
      // One unreadable frame must not end the stream.
      const error = isScanpayError(e) ? e : new ScanpayError('SCAN_IMAGE_UNREADABLE', { cause: e });
      this.#events.emit('status', { source: this.id, status: 'error', at: this.#clock.now(), error });
    }
  }

  async #imageFrames(path: string): Promise<string[]> {
    let files: string[];
    try {
      files = (await stat(path)).isDirectory()
        ? (await readdir(path))
            .filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()))
            .sort()
            .map((f) => join(path, f))
        : [path];
    } catch (e) {
      throw new ScanpayError('SCAN_DEVICE_NOT_FOUND', { message: `no image file or directory at ${path}`, cause: e, detail: { path } });
    }
    return files;
  }

  #rawFrames(input: Extract<FrameInput, { kind: 'raw' }>): AsyncIterable<RawFrame> {
    const stream = input.path === '-' ? this.#stdin : createReadStream(input.path);
    if (!stream) throw new ScanpayError('SCAN_SOURCE_SPEC_INVALID', { message: 'this process has no stdin to read frames from' });
    this.#stream = stream;
    const cutter = new FrameCutter(input.width * input.height * BYTES_PER_PIXEL[input.format]);
    return (async function* () {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        for (const data of cutter.push(chunk)) yield { data, width: input.width, height: input.height, format: input.format };
      }
    })();
  }
}
