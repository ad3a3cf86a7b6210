#!/bin/sh
# Install what jetup needs on Debian/Ubuntu: `deps.sh build` for building and
# running jetup (cgo and libusb for USB detection), `deps.sh test` for the
# tests too (the real parts they drive: ptys via socat, sshd and Nix for push,
# qemu with EDK2 firmware for the serial console, loop devices and bmaptool
# for media, python3-fusepy for the emulated slow sticks of shared/tools/slowdisk,
# tmux for the end-to-end wizard run, stress-ng for
# make test-stress).
#
# As root it installs missing packages with apt-get; otherwise it prints the
# command and goes on (tests that need a missing tool then skip, except under
# CI=true where they fail).
set -eu

build_pkgs="gcc pkg-config libusb-1.0-0-dev"
test_pkgs="$build_pkgs socat openssh-server openssh-client nix-bin qemu-system-arm qemu-efi-aarch64
  bmap-tools zstd xz-utils bzip2 mtools fdisk dosfstools e2fsprogs util-linux tmux iproute2 sudo stress-ng
  squashfs-tools erofs-utils cpio python3-fusepy"

case "${1:-build}" in
  build) want=$build_pkgs ;;
  test) want=$test_pkgs ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps: not a Debian/Ubuntu system; install the equivalents of: $want" >&2
  exit 0
fi

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages:$missing" >&2
  echo "deps: install them with: sudo apt-get install -y$missing" >&2
  exit 0
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
