#!/usr/bin/env bash
# packaging/build-deb.sh [OUTDIR]: builds scanpay_<version>_<arch>.deb for this machine's
# architecture, offline, from this checkout after `npm ci`: the npm pack tarball's files
# (bin, dist/, docs/) under /opt/scanpay, the native modules as npm ci built them here,
# the systemd unit and udev rules from docs/deploy/, /usr/bin/scanpay, and maintainer
# scripts creating the `scanpay` system user and /var/lib/scanpay and V8's code cache for
# `scanpay run` with the device's node. Prints the .deb's path.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath "${1:-.}")"
version="$(node -p "require('./package.json').version")"
arch="$(dpkg --print-architecture)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

npm run build --silent >/dev/null
# The same files `npm install -g` gets; --ignore-scripts: just built above.
npm pack --ignore-scripts --silent --pack-destination "$work" >/dev/null
root="$work/root"
mkdir -p "$root/opt/scanpay" "$root/usr/bin" "$root/DEBIAN"
tar -xzf "$work"/scanpay-"$version".tgz -C "$root/opt/scanpay" --strip-components=1
node packaging/runtime-modules.mjs "$root/opt/scanpay/node_modules" >/dev/null
# V8's code cache fits only the node that made it (this machine's); the device's nodejs
# rejects it. postinst makes one with the device's node instead (agent/bin/write-run-cache.mjs).
rm "$root/opt/scanpay/dist/run.cjs.cache"
install -D -m 0644 docs/deploy/scanpay.service "$root/lib/systemd/system/scanpay.service"
install -D -m 0644 docs/deploy/99-scanpay-scanners.rules "$root/lib/udev/rules.d/99-scanpay-scanners.rules"
install -m 0755 packaging/debian/scanpay "$root/usr/bin/scanpay"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
# A new node (apt upgrading nodejs) makes the cache stale: postinst is triggered to make it again.
install -m 0644 packaging/debian/triggers "$root/DEBIAN/"

cat > "$root/DEBIAN/control" <<CONTROL
Package: scanpay
Version: $version
Architecture: $arch
Maintainer: scanpay <scanpay@localhost>
Depends: nodejs (>= 20), ca-certificates, passwd, util-linux
Recommends: udev, libusb-1.0-0
Section: misc
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Description: barcode payment agent for scan boxes and POS lanes
 Takes wallet payments (WeChat Pay, Alipay, UnionPay QR, e-CNY) from a barcode
 scanner through an acquiring backend and never loses track of one: journal
 first, unknown outcomes resolved by query or reversal across restarts.
CONTROL

deb="$out/scanpay_${version}_${arch}.deb"
# gzip: quick to build, and every dpkg can read it.
dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >/dev/null
echo "$deb"
