/**
 * A camera (`/dev/videoN`, V4L2) read through ffmpeg: ffmpeg opens the device at the
 * asked frame rate and size and writes grayscale frames to a pipe; each frame is decoded
 * on the decoder thread. A live camera outruns the decoder now and then, so only the
 * newest frame waits: a code held up to the camera is in many frames, and decoding an old
 * one would only add delay. A camera that goes away (unplugged, driver reset) ends ffmpeg;
 * that is a disconnect, reopened with backoff like an unplugged scanner.
 *
 * The target may also be a video file: then every frame is decoded, ffmpeg waiting for the
 * decoder (how the driver is tested here, with no camera at hand, deterministically).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { Clock } from '../../agent/clock.ts';
import { ScanpayError, isScanpayError } from '../../agent/errors.ts';
import { DecoderWorker, type DecoderName } from '../image/decoder-client.ts';
import { FrameCutter } from '../image/frame-cutter.ts';
import type { RawFrame } from '../image/frame.ts';
import { Emitter, type Feedback, type ScannerSource, type SourceEvents } from '../source.ts';

export interface CameraSourceOptions {
  id: string;
  /** /dev/videoN, or a video file. */
  device: string;
  fps: number;
  width: number;
  height: number;
  decoder: DecoderName;
  /** The ffmpeg to run; `ffmpeg` on PATH unless given. */
  ffmpeg?: string;
}

/** ffmpeg's arguments: V4L2 for a device, the file's own pace for a file. */
export function ffmpegArgs(o: CameraSourceOptions, isDevice: boolean): string[] {
  const input = isDevice ? ['-f', 'v4l2', '-framerate', String(o.fps), '-video_size', `${o.width}x${o.height}`] : [];
  return ['-hide_banner', '-loglevel', 'error', '-nostdin', ...input, '-i', o.device, '-vf', `fps=${o.fps},scale=${o.width}:${o.height}`, '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'];
}

/** Frames of a video file read ahead of the decoder. */
const FILE_FRAMES_AHEAD = 4;

export class CameraSource implements ScannerSource {
  readonly id: string;
  readonly #options: CameraSourceOptions;
  readonly #clock: Clock;
  readonly #events = new Emitter<SourceEvents>();
  #child: ChildProcess | undefined;
  #decoder: DecoderWorker | undefined;
  /** Frames waiting for the decoder: only the newest from a camera, all from a file. */
  #waiting: RawFrame[] = [];
  /** The decode loop while it runs: it takes waiting frames until none is left. */
  #draining: Promise<void> | undefined;

  constructor(options: CameraSourceOptions, deps: { clock: Clock }) {
    this.id = options.id;
    this.#options = options;
    this.#clock = deps.clock;
  }

  on<K extends keyof SourceEvents>(event: K, listener: (e: SourceEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async open(): Promise<void> {
    if (this.#child) return;
    const { device } = this.#options;
    const isDevice = await stat(device).then(
      (s) => s.isCharacterDevice(),
      (e: unknown) => {
        throw new ScanpayError('SCAN_DEVICE_NOT_FOUND', { message: `no camera at ${device}: is it plugged in? (v4l2-ctl --list-devices lists cameras)`, cause: e, detail: { path: device } });
      },
    );
    const decoder = new DecoderWorker(this.#options.decoder);
    // Frames that came while the decoder loads would be dropped unseen: load it first.
    await decoder.ready();
    const child = await this.#spawn(isDevice).catch(async (e: unknown) => {
      await decoder.close();
      throw e;
    });
    this.#decoder = decoder;
    this.#child = child;
    this.#readFrames(child, isDevice);
    this.#events.emit('status', { source: this.id, status: 'connected', at: this.#clock.now() });
  }

  async close(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    this.#waiting = [];
    child?.kill('SIGTERM');
    const decoder = this.#decoder;
    this.#decoder = undefined;
    await decoder?.close();
  }

  async feedback(_kind: Feedback): Promise<boolean> {
    return false;
  }

  #spawn(isDevice: boolean): Promise<ChildProcess> {
    const child = spawn(this.#options.ffmpeg ?? 'ffmpeg', ffmpegArgs(this.#options, isDevice), { stdio: ['ignore', 'pipe', 'pipe'] });
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve(child));
      child.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          e.code === 'ENOENT'
            ? new ScanpayError('SCAN_NATIVE_LIBRARY_MISSING', { message: 'camera sources need ffmpeg: apt-get install ffmpeg', cause: e })
            : new ScanpayError('SCAN_DEVICE_IO', { message: `cannot start ffmpeg: ${e.message}`, cause: e }),
        ),
      );
    });
  }

  #readFrames(child: ChildProcess, isDevice: boolean): void {
    const { width, height } = this.#options;
    const cutter = new FrameCutter(width * height);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-2000)));
    child.stdout!.on('data', (chunk: Buffer) => {
      for (const data of cutter.push(chunk)) {
        const frame: RawFrame = { data, width, height, format: 'gray' };
        // A camera's older frame is dropped, not queued: the decoder is busy, and the code
        // held up is in the newer one too.
        this.#waiting = isDevice ? [frame] : [...this.#waiting, frame];
      }
      // A file waits for the decoder (the pipe fills and ffmpeg blocks); a camera does not.
      if (!isDevice && this.#waiting.length >= FILE_FRAMES_AHEAD) child.stdout!.pause();
      void this.#drain(child);
    });
    child.once('close', (code) => void this.#ended(child, code, isDevice, stderr.trim()));
  }

  #drain(child: ChildProcess): Promise<void> {
    this.#draining ??= this.#decodeWaiting(child).finally(() => (this.#draining = undefined));
    return this.#draining;
  }

  async #decodeWaiting(child: ChildProcess): Promise<void> {
    for (let frame = this.#waiting.shift(); frame && this.#child === child; frame = this.#waiting.shift()) {
      if (this.#waiting.length < FILE_FRAMES_AHEAD) child.stdout!.resume();
      try {
        const hit = await this.#decoder!.decode(frame, { move: true });
        if (hit && this.#child === child) this.#events.emit('scan', { text: hit.text, symbology: hit.symbology, source: this.id, at: this.#clock.now(), raw: Buffer.from(hit.text, 'utf8') });
      } catch (e) {
        if (this.#child !== child) return;
        const error = isScanpayError(e) ? e : new ScanpayError('SCAN_IMAGE_UNREADABLE', { cause: e });
        this.#events.emit('status', { source: this.id, status: 'error', at: this.#clock.now(), error });
      }
    }
  }

  async #ended(child: ChildProcess, code: number | null, isDevice: boolean, stderr: string): Promise<void> {
    // Frames still buffered are decoded first: the last second of a file may hold a code.
    await this.#drain(child);
    if (this.#child !== child) return; // closed on purpose
    this.#child = undefined;
    const decoder = this.#decoder;
    this.#decoder = undefined;
    await decoder?.close();
    const at = this.#clock.now();
    if (code === 0 && !isDevice) return this.#events.emit('status', { source: this.id, status: 'disconnected', at, ended: true });
    const error = new ScanpayError('SCAN_DEVICE_DISCONNECTED', {
      message: `camera ${this.#options.device} stopped (ffmpeg exit ${code ?? 'by signal'}${stderr ? `: ${stderr.split('\n').pop()}` : ''})`,
      detail: { path: this.#options.device },
    });
    this.#events.emit('status', { source: this.id, status: 'disconnected', at, error });
  }
}
