/**
 * The udev rule that lets scanpay read one wedge scanner's input device and nothing else.
 * Adding the user to group `input` would work too, and let it read every keyboard on the
 * till, the cashier's included: the rule names the scanner instead.
 */
export function evdevUdevRule(device: { vendorId?: string | undefined; productId?: string | undefined; name?: string; bus?: string } = {}): string {
  const match =
    device.bus === 'bluetooth' || !device.vendorId
      ? `ATTRS{name}=="${(device.name ?? 'SCANNER NAME').replace(/"/g, '')}"`
      : `ATTRS{idVendor}=="${device.vendorId}", ATTRS{idProduct}=="${device.productId ?? 'PPPP'}"`;
  return `SUBSYSTEM=="input", KERNEL=="event*", ${match}, GROUP="scanpay", MODE="0640", ENV{LIBINPUT_IGNORE_DEVICE}="1"`;
}
