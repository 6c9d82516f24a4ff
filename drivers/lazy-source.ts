/**
 * A source whose driver module is loaded when it is first opened. The agent starts with
 * only what its configuration uses: a lane with a serial scanner never loads the image
 * decoders, and a missing native module (node-hid, the serialport binding, koffi) becomes
 * an error that says what to install, reported like any scanner failure, not a crash at
 * start-up.
 */
import { ScanpayError, isScanpayError } from '../agent/errors.ts';
import { Emitter, type Feedback, type ScannerSource, type SourceEvents } from './source.ts';

export class LazySource implements ScannerSource {
  readonly id: string;
  readonly #load: () => Promise<ScannerSource>;
  readonly #missing: string;
  readonly #events = new Emitter<SourceEvents>();
  #source: Promise<ScannerSource> | undefined;
  #loaded: ScannerSource | undefined;

  /** `missing` says how to install the driver's native part when its module fails to load. */
  constructor(id: string, load: () => Promise<ScannerSource>, missing: string) {
    this.id = id;
    this.#load = load;
    this.#missing = missing;
  }

  on<K extends keyof SourceEvents>(event: K, listener: (e: SourceEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async open(): Promise<void> {
    await (await this.#driver()).open();
  }

  async close(): Promise<void> {
    await this.#loaded?.close();
  }

  async feedback(kind: Feedback): Promise<boolean> {
    return this.#loaded ? this.#loaded.feedback(kind) : false;
  }

  #driver(): Promise<ScannerSource> {
    this.#source ??= this.#load().then(
      (source) => {
        source.on('scan', (e) => this.#events.emit('scan', e));
        source.on('status', (e) => this.#events.emit('status', e));
        this.#loaded = source;
        return source;
      },
      (e: unknown) => {
        // Loading again will not help until something is installed; but let a later open retry.
        this.#source = undefined;
        throw isScanpayError(e)
          ? e
          : new ScanpayError('SCAN_NATIVE_LIBRARY_MISSING', { message: `${this.id}: the driver could not be loaded (${e instanceof Error ? e.message : String(e)}): ${this.#missing}`, cause: e });
      },
    );
    return this.#source;
  }
}
