# --- the manifest: this board's store state, as JSON on stdout --------------
# The same JSON jetup keeps at home for the board (jetup boards): the valid
# paths of the profile's generations (and the running system) with their NAR
# hash and size, so the next bundle carries only what the board lacks.

# fingerprints prints the board's host key fingerprints, ed25519 first.
fingerprints() {
  for k in /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ecdsa_key.pub /etc/ssh/ssh_host_rsa_key.pub; do
    [ -r "$k" ] && ssh-keygen -l -E sha256 -f "$k" 2>/dev/null | awk '{ print $2 }'
  done
}

# decoder names the delta decoder this board has: zstd >= 1.4.5 (--patch-from),
# the one a bundle shipped (jetup bundle --decoder) first.
decoder() {
  z=zstd
  if [ -x "$state/decoder/bin/zstd" ]; then z=$state/decoder/bin/zstd; elif ! command -v zstd >/dev/null 2>&1; then return 0; fi
  v=$("$z" -V 2>/dev/null | sed -n 's/.* v\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')
  case "$v" in
    ""|0.*|1.[0-3].*|1.4.[0-4]) ;;
    *) echo "zstd $v" ;;
  esac
}

# json_list prints its input lines as a JSON array of strings.
json_list() { awk 'BEGIN { printf "[" } { printf "%s\"%s\"", (NR > 1 ? ", " : ""), $0 } END { printf "]" }'; }

# generations lists the profile's generations: "number path current".
generations() {
  cur=$(readlink "$profile" 2>/dev/null) || cur=
  for g in "$profile"-*-link; do
    [ -e "$g" ] || continue
    n=${g##*/}; n=${n%-link}; n=${n##*-}
    case "$n" in ''|*[!0-9]*) continue ;; esac
    c=false; [ "${g##*/}" = "$cur" ] && c=true
    printf '%s %s %s\n' "$n" "$(readlink -f "$g")" "$c"
  done | sort -n
}

# generations_json prints generations' lines as a JSON array.
generations_json() {
  awk 'BEGIN { printf "[" } { printf "%s\n    {\"number\": %s, \"path\": \"%s\", \"current\": %s}", (NR > 1 ? "," : ""), $1, $2, $3 } END { printf "%s]", (NR > 0 ? "\n  " : "") }'
}

manifest() {
  m=$(mktemp -d) || return 1
  generations > "$m/gens"
  awk '{ print $2 }' "$m/gens" > "$m/roots"
  current=; readlink "$profile" >/dev/null 2>&1 && current=$(readlink -f "$profile")
  running=
  if [ "$profile" = /nix/var/nix/profiles/system ] && [ -e /run/current-system ]; then
    running=$(readlink -f /run/current-system)
    case "$running" in /nix/store/*) echo "$running" >> "$m/roots" ;; *) running= ;; esac
  fi
  [ -e "$state/decoder" ] && readlink -f "$state/decoder" >> "$m/roots"
  sort -u "$m/roots" | while read -r r; do nix-store --check-validity "$r" 2>/dev/null && echo "$r"; done > "$m/valid"
  : > "$m/paths"
  if [ -s "$m/valid" ]; then
    xargs nix-store -qR < "$m/valid" | sort -u > "$m/paths" || { rm -rf "$m"; return 1; }
  fi
  : > "$m/hashes"; : > "$m/sizes"
  if [ -s "$m/paths" ]; then
    xargs nix-store -q --hash < "$m/paths" > "$m/hashes" &&
      xargs nix-store -q --size < "$m/paths" > "$m/sizes" || { rm -rf "$m"; return 1; }
  fi
  host=$(cat /proc/sys/kernel/hostname 2>/dev/null | tr -cd 'A-Za-z0-9._-')
  nixv=$(nix-store --version 2>/dev/null | awk '{ print $NF }' | tr -cd 'A-Za-z0-9._+-')
  fingerprints > "$m/keys"
  seq=$(cat "$state/sequence" 2>/dev/null | tr -cd 0-9); seq=${seq:-0}
  free=$(df -Pk /nix 2>/dev/null | awk 'NR == 2 { printf "%.0f", $4 * 1024 }')
  printf '{\n  "format": "jetup-manifest/1",\n'
  printf '  "fingerprint": "%s",\n' "$(head -n 1 "$m/keys")"
  printf '  "host_keys": %s,\n' "$(json_list < "$m/keys")"
  printf '  "hostname": "%s",\n  "arch": "%s",\n  "nix": "%s",\n' "$host" "$(uname -m)" "$nixv"
  printf '  "profile": "%s",\n  "current": "%s",\n  "running": "%s",\n' "$profile" "$current" "$running"
  printf '  "generations": '
  generations_json < "$m/gens"
  printf ',\n  "sequence": %s,\n  "decoder": "%s",\n  "free_bytes": %s,\n' "$seq" "$(decoder)" "${free:-0}"
  printf '  "time": "%s",\n  "paths": [' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  paste -d ' ' "$m/paths" "$m/hashes" "$m/sizes" |
    awk '{ printf "%s\n    {\"path\": \"%s\", \"nar_hash\": \"%s\", \"nar_size\": %s}", (NR > 1 ? "," : ""), $1, $2, $3 }'
  printf '\n  ]\n}\n'
  rm -rf "$m"
}
