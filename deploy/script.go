package deploy

import (
	"fmt"
	"strings"

	"github.com/jetup/jetup/remote"
)

// One shell on the board does everything jetup needs there, as the first
// session of the connection: with 50 ms of latency each further ssh session
// costs several round trips, and the probe and the activation would be two.
//
//  1. The probe: what preflight needs (architecture, Nix, root or sudo,
//     installer or installed, free space), found while the path list is
//     on its way.
//  2. The closure's path list from stdin (a line with its length in
//     bytes, then exactly that many bytes: BoardInput) and, for the whole
//     list at once, `nix-store --check-validity --print-invalid`: the
//     delta. It ends with "jetup:probe_end=1".
//  3. It waits on stdin while jetup judges. "copy" opens the gate of the
//     nix copy jetup started while the probe ran (see gateProgram),
//     "nocopy" ends that copy on the board's side before it sends;
//     "fetch" and two lines (a binary cache's URL, its public keys) has
//     the board substitute the system from that cache itself (`nix copy
//     --from URL --option trusted-public-keys KEYS`), signatures checked,
//     no negative narinfo cache (a path found missing in an earlier try,
//     copied to the cache since, is looked up again, not taken as missing
//     for Nix's default hour), a "jetup:fetching=PATH" line as nix
//     starts each path (its "copying path 'PATH' from 'URL'" line),
//     nix's other lines as "jetup:fetch_err=LINE", ending with
//     "jetup:fetch_rc=N" (Options.Cache: no copy waits at the gate
//     then, see Push); "go"
//     activates, "go reboot" activates then reboots; anything else or end
//     of input (a refusal, a cancel, a lost link) ends it with nothing
//     changed.
//  4. The activation: nixos-install onto /mnt on the installer; on an
//     installed system the system profile is set at once (so a garbage
//     collection can no longer take the new paths), then
//     switch-to-configuration runs under systemd-run where the board has it,
//     as nixos-rebuild does, so a dropped session cannot cut it short.
//
// It prints "jetup:key=value" lines for jetup; other lines are the tools'
// own output.

const probePath = "/run/wrappers/bin:/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// fetchFilter is the awk program between the board's nix copy --from and
// jetup: "copying path '/nix/store/...' from 'URL'..." becomes
// "jetup:fetching=PATH", nix's count and warnings are dropped, and every
// other line is "jetup:fetch_err=LINE". A line a time, flushed, so the
// progress keeps pace with nix. No single quote in it: the shell quotes it
// so (\047 is awk's).
const fetchFilter = `/^copying path \047\// { p = substr($0, 15); sub(/\047.*/, "", p); print "jetup:fetching=" p; fflush(); next }
/^copying / || /^warning: / { next }
{ print "jetup:fetch_err=" $0; fflush() }`

// BoardInput is what the board shell reads first: the length, then the
// closure, a path a line.
func BoardInput(paths []string) string {
	list := strings.Join(paths, "\n") + "\n"
	return fmt.Sprintf("%d\n%s", len(list), list)
}

// BoardScript is the board shell for mode and system; token names its
// private directory /tmp/jetup-<token>, where the copy's gate is.
func BoardScript(mode Mode, system, token string, c Confirm) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# jetup:board\nmode=%s\nsys=%s\ngate=/tmp/jetup-%s\n", mode, remote.ShellQuote(system), token)
	b.WriteString(`exec 2>&1
PATH="$PATH:` + probePath + `"; export PATH
say() { printf 'jetup:%s=%s\n' "$1" "$2"; }
mkdir -m 700 "$gate" || { echo "jetup: cannot create $gate"; exit 1; }
trap 'rm -rf "$gate"' EXIT
uid=$(id -u)
SUDO=
if [ "$uid" = 0 ]; then priv=root; elif sudo -n true 2>/dev/null; then priv=sudo; SUDO="sudo -n"; else priv=none; fi
say arch "$(uname -m)"
say uid "$uid"
say user "${USER:-$(id -un)}"
read -r host < /proc/sys/kernel/hostname && say hostname "$host"
say priv "$priv"
nix=no
if command -v nix-store >/dev/null 2>&1; then nix=yes; say nix "$(nix-store --version 2>/dev/null)"; fi
[ -e /etc/NIXOS ] && say nixos yes
[ -e /run/current-system ] && say current "$(readlink -f /run/current-system)"
[ -r /run/current-system/nixos-version ] && read -r v < /run/current-system/nixos-version && say nixos_version "$v"
installer=no; command -v nixos-install >/dev/null 2>&1 && installer=yes && say nixos_install yes
command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ] && say systemd_run yes
mnt=no; while read -r _ mp _; do [ "$mp" = /mnt ] && mnt=yes; done < /proc/mounts
[ "$mnt" = yes ] && say mnt_mounted yes
[ -e /nix/.ro-store ] && say live yes
gen=$(readlink /nix/var/nix/profiles/system 2>/dev/null) && say generation "$gen" && say profile "$(readlink -f /nix/var/nix/profiles/system)"
if [ -z "$mode" ]; then
  mode=switch
  [ "$mnt" = yes ] && [ -e /nix/.ro-store ] && [ "$installer" = yes ] && mode=installer
fi
say mode "$mode"
root=; [ "$mode" = installer ] && root=/mnt
say store_root "$root"
d="$root/nix"; while [ ! -d "$d" ]; do d=$(dirname "$d"); done
say free_on "$d"
say free_kib "$(df -Pk "$d" 2>/dev/null | { read -r _; read -r _ _ _ avail _; echo "$avail"; })"
list="$gate/paths"
read -r input || exit 0
head -c "$input" > "$list"
if [ "$nix" = yes ]; then
  if [ -n "$root" ]; then set -- --store "local?root=$root"; else set --; fi
  $SUDO xargs nix-store "$@" --check-validity --print-invalid < "$list" > "$list.out" 2>&1
  rc=$?
  while read -r p; do
    case "$p" in /*) say invalid "$p" ;; warning:*) ;; *) say delta_err "$p" ;; esac
  done < "$list.out"
  say delta_rc "$rc"
fi
say probe_end 1
go=
while read -r cmd then; do
  case "$cmd" in
    copy) printf 'SUDO="%s"\nSTORE="%s"\n' "$SUDO" "${root:+local?root=$root}" > "$gate/go.new" && mv "$gate/go.new" "$gate/go" ;;
    nocopy) echo 'exit 0' > "$gate/go.new" && mv "$gate/go.new" "$gate/go" ;;
    fetch)
      read -r url && read -r keys || break
      if ! command -v awk >/dev/null 2>&1; then
        say fetch_err "the board has no awk, which jetup reads nix's lines through: install it (gawk), or push without the cache"
        say fetch_rc noawk
        continue
      fi
      # One awk turns nix's lines into jetup's (a shell loop reads a pipe
      # a byte at a time: on a slow board that took CPU the fetch needs).
      # nix's other lines go to jetup too, which keeps the last ones for
      # an error; prefixed, so nothing a cache makes nix print can pass
      # for a jetup line.
      { $SUDO nix --extra-experimental-features nix-command copy --from "$url" --option trusted-public-keys "$keys" --option substituters '' --option narinfo-cache-negative-ttl 0 \
          ${root:+--to "local?root=$root"} "$sys" 2>&1; echo "$?" > "$gate/fetch.rc"; } |
        awk '` + fetchFilter + `'
      rc=$(cat "$gate/fetch.rc" 2>/dev/null || echo lost)
      say fetch_rc "$rc" ;;
    go) go=yes; break ;;
    *) break ;;
  esac
done
[ "$go" = yes ] || exit 0
if [ "$mode" = installer ]; then
  $SUDO nixos-install --system "$sys" --root /mnt --no-root-passwd --no-channel-copy
  rc=$?
  gen=$(readlink /mnt/nix/var/nix/profiles/system 2>/dev/null) && say generation "$gen"
elif prevgen=$(readlink /nix/var/nix/profiles/system 2>/dev/null); $SUDO nix-env -p /nix/var/nix/profiles/system --set "$sys"; then
  gen=$(readlink /nix/var/nix/profiles/system 2>/dev/null) && say generation "$gen"
` + confirmShell(token, c) + `  if [ "$confirming" != yes ]; then
    if command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      $SUDO systemd-run -E LOCALE_ARCHIVE -E NIXOS_INSTALL_BOOTLOADER --collect --no-ask-password --pipe --quiet \
        --same-dir --service-type=exec --unit=jetup-switch-to-configuration --wait \
        "$sys/bin/switch-to-configuration" "$mode"
    else
      $SUDO env -i LOCALE_ARCHIVE="${LOCALE_ARCHIVE:-}" NIXOS_INSTALL_BOOTLOADER= "$sys/bin/switch-to-configuration" "$mode"
    fi
    rc=$?
  fi
else
  rc=profile
fi
say rc "$rc"
# A live switch does not change the running kernel, initrd, modules or
# firmware: say which of them run only after a reboot (what
# nixos-needsreboot compares with /run/booted-system, less systemd).
if [ "$mode" = switch ] && [ "$rc" = 0 ] && [ "$then" != reboot ] && [ -e /run/booted-system ]; then
  rb=
  for part in kernel initrd kernel-modules firmware; do
    [ "$(readlink "$sys/$part" 2>/dev/null)" = "$(readlink "/run/booted-system/$part" 2>/dev/null)" ] || rb="$rb $part"
  done
  [ -n "$rb" ] && say reboot_needed "${rb# }"
fi
if [ "$then" = reboot ] && [ "$rc" = 0 ]; then
  $SUDO nohup sh -c 'sleep 2; systemctl reboot || reboot' >/dev/null 2>&1 &
  say rebooting yes
fi
`)
	return b.String()
}
