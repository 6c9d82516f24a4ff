/**
 * USB ids of scanners and what mode each product id means, for when the device does not
 * say (hidapi's libusb backend gives no usage page). Names and modes are from the
 * usb.ids database (Debian package usb.ids 2025.07.26), not guessed: Newland numbers its
 * engines' modes in the low byte (03 keyboard, 06 serial CDC, 10 HID POS).
 */
export type UsbMode = 'keyboard' | 'pos' | 'serial';

/** USB vendors whose devices on a POS lane are almost always scanners. */
export const SCANNER_VENDORS: Record<string, string> = {
  '0c2e': 'Honeywell (Metrologic)',
  '05e0': 'Zebra (Symbol)',
  '05f9': 'Datalogic (PSC)',
  '1eab': 'Newland',
  '0536': 'Honeywell (Hand Held Products)',
  '065a': 'Opticon',
  '1a86': 'QinHeng (CH340 serial, common in budget scan boxes)',
  '2dd6': 'Sunmi',
  '34eb': 'Netum',
  '27dd': 'Mindeo',
};

const PRODUCT_MODES: Record<string, UsbMode> = {
  '0c2e:0204': 'keyboard', // Metrologic MS7120 (keyboard mode)
  '0c2e:0700': 'serial', // MS7120 uni-directional serial mode
  '0c2e:0720': 'serial', // MS7120 bi-directional serial mode
  '05e0:1701': 'serial', // Symbol Bar Code Scanner (CDC)
  '05f9:2206': 'keyboard', // Gryphon series (keyboard emulation mode)
  '05f9:4204': 'serial', // Gryphon series (RS-232 emulation mode)
  '065a:0001': 'keyboard', // Opticon OPR-2001 / NLV-1001 (keyboard mode)
  '065a:0009': 'serial', // NLV-1001 (serial mode)
};

const NEWLAND_MODE: Record<string, UsbMode> = { '03': 'keyboard', '06': 'serial', '10': 'pos' };

/** The mode a product id stands for, where the database says. */
export function productMode(vendorId: string, productId: string): UsbMode | undefined {
  const id = `${vendorId}:${productId}`.toLowerCase();
  if (vendorId.toLowerCase() === '1eab') return NEWLAND_MODE[productId.slice(2).toLowerCase()];
  return PRODUCT_MODES[id];
}
