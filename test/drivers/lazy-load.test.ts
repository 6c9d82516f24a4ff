/**
 * The agent loads a driver only when a source of its kind is opened: a lane with a serial
 * scanner never loads the image decoders, and a driver whose module cannot load (a
 * native part missing) reports what to install when opened, instead of failing at import.
 * Each module here throws when loaded, so a static import anywhere on the way fails the file.
 */
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';

vi.mock('@zxing/library', () => {
  throw new Error('@zxing/library was loaded');
});
vi.mock('zxing-wasm/reader', () => {
  throw new Error('zxing-wasm was loaded');
});
vi.mock('serialport', () => {
  throw new Error("Cannot find package 'serialport' imported from serial-port.ts");
});
vi.mock('koffi', () => {
  throw new Error("Cannot find package 'koffi'");
});

const { createSource } = await import('../../drivers/create-source.ts');
const { listScanners } = await import('../../agent/cli/scanners.ts');

describe('drivers load when a source of their kind is opened', () => {
  it('builds every kind of source without loading any driver module', () => {
    const clock = new ManualClock();
    for (const spec of ['serial:/dev/ttyACM0', 'hid:0c2e:0b61', 'evdev:/dev/input/event3', 'camera:/dev/video0', 'image:/tmp/x', 'virtual:a']) {
      expect(createSource(spec, { clock }).id).toBe(spec);
    }
  });

  it('a virtual scanner opens and scans with the image decoders unloadable', async () => {
    const source = createSource('virtual:lane', { clock: new ManualClock() });
    await source.open();
    await source.close();
  });

  it('a driver whose native module does not load says what to install when opened', async () => {
    const serial = createSource('serial:/dev/ttyACM0', { clock: new ManualClock() });
    await expect(serial.open()).rejects.toMatchObject({ code: 'SCAN_NATIVE_LIBRARY_MISSING', message: expect.stringContaining('npm rebuild @serialport/bindings-cpp') });
    const evdev = createSource('evdev:/etc/hostname', { clock: new ManualClock() });
    await expect(evdev.open()).rejects.toMatchObject({ code: 'SCAN_NATIVE_LIBRARY_MISSING', message: expect.stringContaining('koffi') });
  });

  it('scanners lists with the serialport module missing, and says so in its section', async () => {
    const lines: string[] = [];
    const { listSerialPorts } = await import('../../drivers/serial/serial-port.ts');
    await listScanners({ listSerial: listSerialPorts, listHid: async () => [], listInput: async () => [], out: (l) => lines.push(l) });
    expect(lines.slice(0, 2)).toEqual(['Serial ports', expect.stringMatching(/cannot list: SCAN_NATIVE_LIBRARY_MISSING: .*npm rebuild @serialport\/bindings-cpp/)]);
  });
});
