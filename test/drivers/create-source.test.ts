import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/clock.ts';
import { createSource } from '../../drivers/create-source.ts';
import { LazySource } from '../../drivers/lazy-source.ts';
import { VirtualSource } from '../../drivers/virtual.ts';

const deps = { clock: new ManualClock() };

describe('createSource', () => {
  it.each([
    // Drivers load when first opened (lazy-load.test.ts); the spec is checked now.
    ['serial:/dev/ttyUSB0?baud=9600&terminator=cr', LazySource],
    ['serial:usb=05e0:1200', LazySource],
    ['serial:/dev/ttyACM0?terminator=none&idle=40&aim=1&prefix=%02&good=1b07', LazySource],
    ['hid:0c2e:0b61?mode=wedge&layout=de&terminator=tab', LazySource],
    ['hid:1eab:1310?mode=pos&report=plain&chain=150', LazySource],
    ['hid:0c2e:0b61', LazySource],
    ['evdev:/dev/input/by-id/usb-Newland-event-kbd?layout=fr&grab=0', LazySource],
    ['camera:/dev/video0?fps=5&width=640&height=480&decoder=zxing-js', LazySource],
    ['image:/tmp/frames', LazySource],
    ['pipe:-?width=640&height=480', LazySource],
    ['frames:/tmp/cam.raw?width=640&height=480&format=rgba', LazySource],
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
    ['hid:0c2e:0b61?layout=xx', /"layout"/],
    ['hid:0c2e:0b61?report=honeywell', /"report"/],
    ['evdev:/dev/input/event3?grab=maybe', /"grab"/],
    ['camera:/dev/video0?fps=0', /"fps"/],
    ['image:/tmp/x?decoder=zbar', /"decoder"/],
    ['pipe:-?width=640', /"height"/],
    ['virtual:x?y=1', /y/],
  ])('rejects %s with a message naming the problem', (spec, message) => {
    expect(() => createSource(spec, deps)).toThrow(message);
    expect(() => createSource(spec, deps)).toThrow(expect.objectContaining({ code: 'SCAN_SOURCE_SPEC_INVALID' }));
  });
});
