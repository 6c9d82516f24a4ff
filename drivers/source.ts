/**
 * What every scanner driver looks like to the agent: a source of scan and status events
 * that can be opened, closed and asked for feedback. Drivers only frame and decode; the
 * scanner manager (agent/scanner-manager.ts) dedupes, validates and reconnects.
 */
import type { ScanpayError } from '../agent/errors.ts';

/** Symbologies a driver can tell apart. `undefined` on a scan means the hardware did not say. */
export type Symbology =
  | 'QR Code'
  | 'Data Matrix'
  | 'PDF417'
  | 'Aztec'
  | 'Code 128'
  | 'Code 39'
  | 'Code 93'
  | 'Codabar'
  | 'ITF'
  | 'EAN-13'
  | 'EAN-8'
  | 'UPC-A'
  | 'UPC-E'
  | 'EAN/UPC'
  | 'GS1 DataBar'
  | 'other';

export interface ScanEvent {
  text: string;
  symbology: Symbology | undefined;
  /** The id of the source that produced it. */
  source: string;
  /** Clock time the frame was complete. */
  at: number;
  /** The bytes as framed, before prefix/suffix/AIM stripping: kept for error reports. */
  raw: Buffer;
}

export type SourceStatus = 'connected' | 'disconnected' | 'error';

export interface StatusEvent {
  source: string;
  status: SourceStatus;
  at: number;
  error?: ScanpayError;
  /**
   * The input is finished (a file sequence read to its end, a pipe closed): there is
   * nothing to reconnect to. Only meaningful with `disconnected`.
   */
  ended?: boolean;
}

export type Feedback = 'good' | 'bad';

export interface SourceEvents {
  scan: ScanEvent;
  status: StatusEvent;
}

export interface ScannerSource {
  /** Stable id, the SOURCE spec it was built from unless given one. */
  readonly id: string;
  /** Resolves once the device is open and reading; rejects with a ScanpayError. */
  open(): Promise<void>;
  /** Idempotent; emits no `disconnected` status (that is for losses nobody asked for). */
  close(): Promise<void>;
  /** Beeps or lights the LED; resolves false when the hardware has no such feature. */
  feedback(kind: Feedback): Promise<boolean>;
  on<K extends keyof SourceEvents>(event: K, listener: (e: SourceEvents[K]) => void): () => void;
}

/** A minimal typed emitter: `on` returns the function that removes the listener. */
export class Emitter<Events extends object> {
  #listeners = new Map<keyof Events, Set<(e: never) => void>>();

  on<K extends keyof Events>(event: K, listener: (e: Events[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as (e: never) => void);
    return () => set.delete(listener as (e: never) => void);
  }

  emit<K extends keyof Events>(event: K, e: Events[K]): void {
    for (const l of [...(this.#listeners.get(event) ?? [])]) (l as (e: Events[K]) => void)(e);
  }
}
