package verify

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/jetup/jetup/remote"
)

// One shell on the board does everything verify needs there, as the only
// session of the connection (each further ssh session costs round trips,
// and a bench technician verifies twenty boards a day):
//
//  1. The probes, each printed as a section between two marker lines
//     ("<M> begin NAME [ARG]" ... "<M> end NAME RC"); after the sections a
//     check needs, "<M> done CHECK" tells jetup it can judge that check.
//     The fast probes run first: the system, the units, the GPU nodes,
//     the CDI specs, k3s and its node, the storage.
//  2. "<M> ready", then it reads commands on stdin, each answered with its
//     section(s) and "<M> ok": "node" re-reads the k3s node (waiting for
//     Ready re-runs only that), "cuda" runs the CUDA sample, "container"
//     the container, "create N" reads a pod manifest of N bytes and
//     creates it, "pod NS NAME", "logs NS NAME" and "delete NS NAME" follow
//     it. "quit" or the end of input ends the shell.
//
// <M> holds a random token, so a tool's output cannot end a section early
// by chance. Every tool runs with stdin from /dev/null: the shell's stdin
// is jetup's command channel.

// scriptParams are what the board shell is told.
type scriptParams struct {
	Token    string
	Checks   []string // the check ids whose probes run
	GPUGlobs []string // device node paths or globs (validated: no spaces or quotes)
	CUDA     string   // a command or store path; "" for none
	Image    string   // container image; "" for none
	// Node is the k3s node to read; "" means this board's hostname. A
	// server asked about an agent's node gets the agent's name.
	Node string
	// KubeOnly runs only the k3s part (on the server, for an agent with
	// no kubeconfig).
	KubeOnly bool
}

func marker(token string) string { return "jetup-verify-" + token }

// globRe is what a GPU device glob may hold: it goes into the script
// unquoted (so the board's shell expands it).
var globRe = regexp.MustCompile(`^/dev/[A-Za-z0-9_./*?\[\]-]+$`)

// ValidGlob reports whether p can be a GPU device node path or glob.
func ValidGlob(p string) bool { return globRe.MatchString(p) && !strings.Contains(p, "..") }

// imageRe is a container image reference (registry/name:tag@digest).
var imageRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$`)

// boardPath is prepended: a NixOS login has these already, and a board
// whose own tools shadow the distribution's must find its own first.
const boardPath = "/run/wrappers/bin:/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin"

func script(p scriptParams) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# jetup:verify\nM=%s\nchecks=' %s '\ngpu_globs=%s\ncuda=%s\nimage=%s\nnode=%s\nkube_only=%v\n",
		marker(p.Token), strings.Join(p.Checks, " "), remote.ShellQuote(strings.Join(p.GPUGlobs, " ")), remote.ShellQuote(p.CUDA),
		remote.ShellQuote(p.Image), remote.ShellQuote(p.Node), p.KubeOnly)
	b.WriteString(boardShell)
	return b.String()
}

const boardShell = `exec 2>&1
PATH="` + boardPath + `:$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"; export PATH
want() { case "$checks" in *" $1 "*) return 0 ;; esac; return 1; }
begin() { printf '%s begin %s\n' "$M" "$*"; }
end() { printf '\n%s end %s %s\n' "$M" "$1" "$2"; }
# run NAME [ARG] -- CMD...: one section with CMD's output and exit code.
run() {
  _n=$1; shift; _a=
  [ "$1" != -- ] && { _a=$1; shift; }
  shift
  if [ -n "$_a" ]; then begin "$_n" "$_a"; else begin "$_n"; fi
  "$@" < /dev/null; _rc=$?
  end "$_n" "$_rc"
}
done_() { printf '%s done %s\n' "$M" "$1"; }
dir=$(mktemp -d /tmp/jetup-verify.XXXXXX) || { echo "jetup: cannot create a temporary directory"; exit 1; }
trap 'rm -rf "$dir"' EXIT
uid=$(id -u)
SUDO=
if [ "$uid" != 0 ] && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
T=; command -v timeout > /dev/null 2>&1 && T=timeout
read -r host < /proc/sys/kernel/hostname
[ -n "$node" ] || node=$host
p_sys() {
  echo "hostname=$host"
  echo "uid=$uid"
  echo "sudo=${SUDO:+yes}"
  echo "current=$(readlink -f /run/current-system 2> /dev/null)"
  echo "booted=$(readlink -f /run/booted-system 2> /dev/null)"
  echo "profile=$(readlink -f /nix/var/nix/profiles/system 2> /dev/null)"
  [ -r /run/current-system/nixos-version ] && echo "nixos_version=$(cat /run/current-system/nixos-version)"
  [ -r /proc/device-tree/compatible ] && echo "compatible=$(tr '\0' ' ' < /proc/device-tree/compatible)"
  [ -r /proc/device-tree/model ] && echo "model=$(tr -d '\0' < /proc/device-tree/model)"
  while read -r k v _; do [ "$k" = MemTotal: ] && echo "mem_kib=$v"; done < /proc/meminfo
  return 0
}
p_units() {
  run running -- systemctl is-system-running
  systemctl list-units --failed --no-legend --plain --no-pager --full > "$dir/failed" 2>&1 < /dev/null
  rc=$?
  begin failed; cat "$dir/failed"; end failed "$rc"
  n=0
  while read -r u _; do
    [ "$u" = "●" ] && continue
    case "$u" in *.*) ;; *) continue ;; esac
    n=$((n + 1)); [ "$n" -gt 10 ] && break
    run journal "$u" -- $SUDO journalctl -u "$u" -n 5 --no-pager -o short
  done < "$dir/failed"
}
p_devices() {
  set -f
  for g in $gpu_globs; do
    set +f
    for f in $g; do [ -e "$f" ] && printf '%s\t%s\n' "$g" "$f"; done
    set -f
  done
  set +f
  return 0
}
p_gpu() {
  run devices -- p_devices
  if command -v nvidia-smi > /dev/null 2>&1; then
    run nvidia-smi -- nvidia-smi
  elif command -v tegrastats > /dev/null 2>&1; then
    run tegrastats -- sh -c "$T ${T:+5} tegrastats --interval 500 | head -n 1"
  fi
}
p_cdi() {
  seen=
  for d in /etc/cdi /var/run/cdi /run/cdi; do
    [ -d "$d" ] || continue
    for f in "$d"/*.yaml "$d"/*.yml "$d"/*.json; do
      [ -f "$f" ] || continue
      r=$(readlink -f "$f")
      case " $seen " in *" $r "*) continue ;; esac
      seen="$seen $r"
      run cdi "$f" -- head -c 1048576 "$f"
    done
  done
  begin runtimes
  for c in podman docker; do command -v "$c" > /dev/null 2>&1 && echo "$c"; done
  end runtimes 0
}
p_node() { run node -- $SUDO k3s kubectl get node "$node" -o json; }
p_k3s() {
  begin k3s
  if [ "$kube_only" = true ]; then echo "k3s=active"; else
    echo "k3s=$(systemctl is-active k3s 2> /dev/null < /dev/null)"
    echo "k3s_agent=$(systemctl is-active k3s-agent 2> /dev/null < /dev/null)"
  fi
  command -v k3s > /dev/null 2>&1 && echo "k3s_bin=yes"
  [ -e /etc/rancher/k3s/k3s.yaml ] && echo "kubeconfig=yes"
  echo "node=$node"
  end k3s 0
  if command -v k3s > /dev/null 2>&1 && [ -e /etc/rancher/k3s/k3s.yaml ]; then p_node; fi
}
p_storage() {
  d=/var/lib/rancher/k3s
  while [ ! -e "$d" ]; do d=${d%/*}; [ -n "$d" ] || d=/; done
  echo "dir=$d"
  echo "source=$(findmnt -n -o SOURCE --target "$d" 2> /dev/null)"
  while read -r f _ _ _ _; do [ "$f" = Filename ] || echo "swap=$f"; done < /proc/swaps
  return 0
}
if [ "$kube_only" = true ]; then
  p_k3s; done_ k3s-node
else
  run sys -- p_sys; done_ booted-system
  want failed-units && { p_units; done_ failed-units; }
  want jetson-gpu && { p_gpu; done_ jetson-gpu; }
  want container-gpu && { p_cdi; done_ cdi; }
  if want k3s-node || want k3s-gpu || want k3s-storage; then p_k3s; done_ k3s-node; fi
  want k3s-storage && { run storage -- p_storage; done_ k3s-storage; }
fi
printf '%s ready\n' "$M"
while read -r cmd a b; do
  case "$cmd" in
    node) p_node ;;
    cuda) run cuda -- $T ${T:+300} sh -c "$cuda" ;;
    container)
      rt=podman; command -v podman > /dev/null 2>&1 || rt=docker
      run container "$rt" -- $T ${T:+900} $SUDO "$rt" run --rm --device nvidia.com/gpu=all "$image" nvidia-smi ;;
    create) head -c "$a" > "$dir/pod.json"; run create -- $SUDO k3s kubectl create -f "$dir/pod.json" -o name ;;
    pod) run pod -- $SUDO k3s kubectl get pod -n "$a" "$b" -o json ;;
    logs) run logs -- $SUDO k3s kubectl logs -n "$a" "$b" --tail=20 ;;
    delete) run delete -- $SUDO k3s kubectl delete pod -n "$a" "$b" --ignore-not-found --wait=false ;;
    *) break ;;
  esac
  printf '%s ok\n' "$M"
done
exit 0
`
