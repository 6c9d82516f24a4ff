/**
 * The customer's phone and what the scanner's camera makes of it: the payment code drawn
 * as a QR image, and any image read back through the agent's real image decoder, so the
 * desktop simulator exercises the same decoding a camera scanner does.
 */
import QRCode from 'qrcode';
import { ScanpayError } from '../agent/errors.ts';
import { FrameDecoder } from '../drivers/image/decoder.ts';
import { decodeImageBytes } from '../drivers/image/image-file.ts';

/** A PNG of the code as a wallet app shows it (QR, with the quiet zone scanners need). */
export function renderCodePng(code: string): Promise<Buffer> {
  return QRCode.toBuffer(code, { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale: 6 });
}

export class CameraReader {
  readonly #decoder = new FrameDecoder();

  /** The text of the first code in a PNG or JPEG image. */
  read(image: Buffer, name: string): string {
    const found = this.#decoder.decode(decodeImageBytes(image, name));
    if (!found) throw new ScanpayError('SIM_NO_CODE_IN_IMAGE', { message: `no barcode or QR code found in ${name}`, detail: { file: name, bytes: image.length } });
    return found.text;
  }
}
