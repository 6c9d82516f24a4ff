/**
 * Linux input events as read from /dev/input/event*: `struct input_event` is a timeval
 * (two longs), then type (u16), code (u16) and value (s32), in host byte order. That is
 * 24 bytes on 64-bit machines and 16 on 32-bit ones (the kernel keeps the longs the
 * userland's size). A read returns whole records; pieces are kept anyway, so a recording
 * replayed through a pipe reads the same.
 */
export interface InputEvent {
  type: number;
  code: number;
  value: number;
}

export const EV_KEY = 1;
export const KEY_UP = 0;
export const KEY_DOWN = 1;
export const KEY_REPEAT = 2;

export const HOST_RECORD_BYTES = process.arch === 'arm' || process.arch === 'ia32' ? 16 : 24;

export class InputEventReader {
  readonly #recordBytes: number;
  #pending = Buffer.alloc(0);

  constructor(recordBytes = HOST_RECORD_BYTES) {
    if (recordBytes !== 16 && recordBytes !== 24) throw new TypeError('"recordBytes" must be 16 or 24');
    this.#recordBytes = recordBytes;
  }

  push(chunk: Buffer): InputEvent[] {
    const bytes = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const whole = bytes.length - (bytes.length % this.#recordBytes);
    const events: InputEvent[] = [];
    const at = this.#recordBytes - 8;
    for (let i = 0; i < whole; i += this.#recordBytes) {
      events.push({ type: bytes.readUInt16LE(i + at), code: bytes.readUInt16LE(i + at + 2), value: bytes.readInt32LE(i + at + 4) });
    }
    this.#pending = Buffer.from(bytes.subarray(whole));
    return events;
  }
}

/** One record in the host's layout: for recordings and tests. */
export function encodeInputEvent(e: InputEvent & { sec?: number; usec?: number }, recordBytes = HOST_RECORD_BYTES): Buffer {
  const b = Buffer.alloc(recordBytes);
  if (recordBytes === 24) {
    b.writeBigInt64LE(BigInt(e.sec ?? 0), 0);
    b.writeBigInt64LE(BigInt(e.usec ?? 0), 8);
  } else {
    b.writeInt32LE(e.sec ?? 0, 0);
    b.writeInt32LE(e.usec ?? 0, 4);
  }
  const at = recordBytes - 8;
  b.writeUInt16LE(e.type, at);
  b.writeUInt16LE(e.code, at + 2);
  b.writeInt32LE(e.value, at + 4);
  return b;
}
