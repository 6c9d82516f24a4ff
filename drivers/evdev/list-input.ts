/**
 * The keyboards Linux sees (/sys/class/input/event*), with what a technician needs to
 * pick the scanner among them: name, USB id, the stable /dev/input/by-id link to use in
 * the SOURCE spec, and whether this user may read it. USB, Bluetooth and 2.4 GHz wedge
 * scanners all show up here, whatever hidapi can reach.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';

export interface InputKeyboard {
  /** /dev/input/eventN */
  node: string;
  /** The /dev/input/by-id link to it, stable across reboots and replugs (USB only). */
  byId: string | undefined;
  name: string;
  vendorId: string | undefined;
  productId: string | undefined;
  bus: 'usb' | 'bluetooth' | 'other';
}

export interface InputRoots {
  sysClassInput: string;
  devInput: string;
}

export const INPUT_ROOTS: InputRoots = { sysClassInput: '/sys/class/input', devInput: '/dev/input' };

const read = (file: string) => readFile(file, 'utf8').then((s) => s.trim(), () => undefined);
const BUS_USB = 0x03;
const BUS_BLUETOOTH = 0x05;
// KEY_A is bit 30 of the key capability bitmap: a device with letters types text.
const KEY_A = 30;

/** Whether a key capability bitmap (hex words, most significant first) has KEY_A. */
export function hasLetterKeys(bitmap: string): boolean {
  const words = bitmap.split(/\s+/).filter(Boolean).reverse();
  const bitsPerWord = (words[0]?.length ?? 16) * 4;
  const word = words[Math.floor(KEY_A / bitsPerWord)];
  return word !== undefined && (BigInt(`0x${word}`) >> BigInt(KEY_A % bitsPerWord)) % 2n === 1n;
}

export async function listInputKeyboards(roots: InputRoots = INPUT_ROOTS): Promise<InputKeyboard[]> {
  const events = (await readdir(roots.sysClassInput).catch(() => [] as string[])).filter((e) => /^event\d+$/.test(e));
  const byIdDir = join(roots.devInput, 'by-id');
  const links = await readdir(byIdDir).catch(() => [] as string[]);
  const byId = new Map<string, string>();
  for (const link of links) {
    const target = await readlink(join(byIdDir, link)).catch(() => undefined);
    // Prefer the -event-kbd link: a scanner's composite device may have others.
    if (target && (!byId.has(basename(target)) || link.endsWith('-event-kbd'))) byId.set(basename(resolve(byIdDir, target)), join(byIdDir, link));
  }
  const keyboards: InputKeyboard[] = [];
  for (const event of events.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))) {
    const device = join(roots.sysClassInput, event, 'device');
    const keys = await read(join(device, 'capabilities', 'key'));
    if (!keys || !hasLetterKeys(keys)) continue;
    const bustype = parseInt((await read(join(device, 'id', 'bustype'))) ?? '', 16);
    keyboards.push({
      node: join(roots.devInput, event),
      byId: byId.get(event),
      name: (await read(join(device, 'name'))) ?? '',
      vendorId: await read(join(device, 'id', 'vendor')),
      productId: await read(join(device, 'id', 'product')),
      bus: bustype === BUS_USB ? 'usb' : bustype === BUS_BLUETOOTH ? 'bluetooth' : 'other',
    });
  }
  return keyboards;
}
