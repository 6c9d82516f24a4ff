/**
 * The decoding thread. A frame without a code costs zxing tens of milliseconds to
 * seconds, and a PNG or JPEG as much again to unpack; on the agent's main thread that time
 * is taken from the POS API and the payment machine, so both happen here and only the
 * text goes back.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { isScanpayError } from '../../agent/errors.ts';
import type { DecodeReply, DecodeRequest, DecoderName } from './decoder-client.ts';
import type { Decoded, RawFrame } from './frame.ts';
import { readImageFile } from './image-file.ts';

/**
 * On Linux a thread has its own nice level: this one gives way to the main thread, so a POS
 * request or a payment step never queues for a core behind a frame. Elsewhere the thread
 * keeps the process's priority.
 */
function giveWayToMainThread(nicerBy: number): void {
  if (nicerBy <= 0) return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, Math.min(19, getPriority(tid) + nicerBy));
  } catch {
    // No /proc/thread-self (not Linux), or a sandbox refusing setpriority: decode as is.
  }
}
const { decoder: name, nicerBy } = workerData as { decoder: DecoderName; nicerBy: number };
giveWayToMainThread(nicerBy);

// Only the chosen decoder is loaded: @zxing/library alone takes a second to load on a small box.
const load = async (): Promise<(frame: RawFrame) => Promise<Decoded | undefined> | Decoded | undefined> => {
  if (name === 'zxing-js') {
    const decoder = new (await import('./decoder.ts')).FrameDecoder();
    return (frame) => decoder.decode(frame);
  }
  const { decodeFrame, prepareZxingWasm } = await import('./zxing-wasm.ts');
  await prepareZxingWasm();
  return decodeFrame;
};
const ready = load();

parentPort!.on('message', async (request: DecodeRequest) => {
  let reply: DecodeReply;
  try {
    const decode = await ready;
    const frame = request.kind === 'file' ? await readImageFile(request.path) : { data: new Uint8Array(request.data), width: request.width, height: request.height, format: request.format };
    reply = { id: request.id, hit: await decode(frame) };
  } catch (e) {
    reply = { id: request.id, error: { code: isScanpayError(e) ? e.code : undefined, message: e instanceof Error ? e.message : String(e) } };
  }
  parentPort!.postMessage(reply);
});
void ready.then(
  () => parentPort!.postMessage({ id: 0 } satisfies DecodeReply),
  () => parentPort!.postMessage({ id: 0 } satisfies DecodeReply), // each request reports the failure
);
