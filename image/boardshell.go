package image

import (
	"fmt"
	"regexp"

	"github.com/jetup/jetup/remote"
)

// boardScript is the update's board shell: the first session of the one
// SSH connection. It prints what the board is (jetup:key=value lines),
// then reads commands on stdin: "recv NAME SIZE SHA256" followed by SIZE
// bytes (written to a temporary name, checked, then moved into place),
// "apply", "reboot", "quit". Every name was checked against safeName on
// the host before it is sent; the script quotes them all the same.
//
// dir is where the files go: the sysupdate source directory, or "" for a
// .swu (a private directory under /var/tmp, removed after).
func boardScript(kind, dir string) string {
	return UpdateScriptTag + fmt.Sprintf(`
PATH=/run/current-system/sw/bin:/run/wrappers/bin:$PATH
say() { printf 'jetup:%%s=%%s\n' "$1" "$2"; }
SUDO=; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
KIND=%s
DIR=%s
say arch "$(uname -m)"
say hwrevision "$(head -c 256 /etc/hwrevision 2>/dev/null | head -n 1)"
say version "$( (. /etc/os-release 2>/dev/null; echo "${IMAGE_VERSION:-${VERSION_ID:-}}") )"
for c in systemd-sysupdate swupdate; do p=$(command -v $c 2>/dev/null) && say tool "$c $p"; done
for f in /etc/sysupdate.d/*.transfer /run/sysupdate.d/*.transfer /usr/local/lib/sysupdate.d/*.transfer /usr/lib/sysupdate.d/*.transfer; do
  [ -f "$f" ] || continue
  say source "$(sed -n '/^\[Source\]/,/^\[Target\]/p' "$f" | grep -E '^(Type|Path)=' | tr '\n' ' ')"
done
if [ -z "$DIR" ] && [ "$KIND" = sysupdate ]; then
  # The one Path= the [Source] sections of the transfer files name.
  paths=$(for f in /etc/sysupdate.d/*.transfer /run/sysupdate.d/*.transfer /usr/local/lib/sysupdate.d/*.transfer /usr/lib/sysupdate.d/*.transfer; do
    [ -f "$f" ] && sed -n '/^\[Source\]/,/^\[Target\]/p' "$f" | sed -n 's/^Path=//p'; done | sort -u)
  [ "$(printf '%%s\n' "$paths" | grep -c .)" = 1 ] && DIR=$paths
fi
if [ "$KIND" = swu ]; then
  DIR=$($SUDO mktemp -d /var/tmp/jetup-swu.XXXXXX) || { say fail "cannot make a directory under /var/tmp"; exit 1; }
  trap '$SUDO rm -rf "$DIR"' EXIT
fi
if [ -n "$DIR" ]; then
  say dir "$DIR"
  [ -d "$DIR" ] && for f in "$DIR"/*; do [ -f "$f" ] && say have "$(sha256sum "$f" | cut -c1-64) ${f##*/}"; done
  d=$DIR; while [ ! -d "$d" ]; do d=${d%%/*}; [ -n "$d" ] || d=/; done
  say free "$(df -Pk "$d" | awk 'NR==2{print $4*1024}')"
fi
say ready 1
while read -r cmd a b c; do
  case "$cmd" in
  recv)
    $SUDO mkdir -p "$DIR" || { say fail "cannot make $DIR"; continue; }
    t="$DIR/.jetup-$a.part"
    head -c "$b" | $SUDO tee "$t" > /dev/null
    got=$(sha256sum "$t" | cut -c1-64)
    if [ "$got" = "$c" ] && $SUDO mv -f "$t" "$DIR/$a"; then say got "$a"; else $SUDO rm -f "$t"; say bad "$a $got"; fi ;;
  apply)
    if [ "$KIND" = swu ]; then $SUDO swupdate -v -i "$DIR/$a" 2>&1; say exit $?
    else $SUDO systemd-sysupdate update 2>&1; say exit $?; fi ;;
  reboot) say rebooting 1; ($SUDO systemctl reboot || $SUDO reboot) > /dev/null 2>&1; exit 0 ;;
  quit) exit 0 ;;
  esac
done
`, remote.ShellQuote(kind), remote.ShellQuote(dir))
}

// UpdateScriptTag starts the board script (the simulated board knows it
// by it).
const UpdateScriptTag = "# jetup update board shell"

// safeName is what a file sent to the board may be called: what sysupdate
// and SWUpdate bundles use, never a path.
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~^@-]{0,200}$`)
