import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { createSource } from '../../drivers/create-source.ts';
import { FrameSource } from '../../drivers/image/frame-source.ts';
import { HidSource } from '../../drivers/hid/hid-source.ts';
import { SerialSource } from '../../drivers/serial/serial-source.ts';
import { VirtualSource } from '../../drivers/virtual.ts';

const deps = { clock: new ManualClock() };

describe('createSource', () => {
  it.each([
    ['serial:/dev/ttyUSB0?baud=9600&terminator=cr', SerialSource],
    ['serial:usb=05e0:1200', SerialSource],
    ['serial:/dev/ttyACM0?terminator=none&idle=40&aim=1&prefix=%02&good=1b07', SerialSource],
    ['hid:0c2e:0b61?mode=wedge&layout=de&terminator=tab', HidSource],
    ['hid:0c2e:0b61', HidSource],
    ['image:/tmp/frames', FrameSource],
    ['pipe:-?width=640&height=480', FrameSource],
    ['frames:/tmp/cam.raw?width=640&height=480&format=rgba', FrameSource],
    ['virtual:lane1', VirtualSource],
  ])('builds %s', (spec, type) => {
    const source = createSource(spec, deps);
    expect(source).toBeInstanceOf(type);
    expect(source.id).toBe(spec);
  });

  it.each([
    ['usb:1234', /unknown source type "usb"/],
    ['/dev/ttyUSB0', /a SOURCE starts with serial:/],
    ['serial:', /needs a target/],
    ['serial:/dev/ttyUSB0?baud=fast', /"baud"/],
    ['serial:/dev/ttyUSB0?terminator=etx', /"terminator"/],
    ['serial:/dev/ttyUSB0?bauds=9600', /bauds/],
    ['serial:/dev/ttyUSB0?good=zz', /"good" must be hex bytes/],
    ['serial:usb=5e0:1200', /usb= takes vendor:product in hex/],
    ['hid:0c2e?mode=pos', /hid: takes vendor:product/],
    ['hid:0c2e:0b61?layout=fr', /"layout"/],
    ['pipe:-?width=640', /"height"/],
    ['virtual:x?y=1', /y/],
  ])('rejects %s with a message naming the problem', (spec, message) => {
    expect(() => createSource(spec, deps)).toThrow(message);
    expect(() => createSource(spec, deps)).toThrow(expect.objectContaining({ code: 'SCAN_SOURCE_SPEC_INVALID' }));
  });
});
