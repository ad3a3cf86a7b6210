# --- apply: check everything, then import, switch, confirm or roll back -----
# Exit status: 0 done, 1 failed (and rolled back when it had switched),
# 2 refused before anything changed. Every outcome but a usage error leaves
# a receipt (JSON) in $state/receipts for the home mirror.

say() { echo "jetup: $*"; }

usage() {
  cat <<USAGE
usage: sh $bundle --check | --switch | --boot | --manifest [options]
  --check                check the bundle against this board; change nothing
  --switch               import, set the profile, activate, health check; roll back on failure
  --boot                 import, set the profile, make it the next boot's system
  --manifest             print this board's manifest (JSON) to send home
  --trust-key FILE       also trust this Nix public key (nix key convert-secret-to-public)
  --confirm-timeout D    the health check must pass within D (120s, 2m; default 120s)
  --health CMD           a command that must succeed (besides systemd's own state)
  --keep N               after a confirmed switch, keep N generations and collect garbage
  --activate CMD         for a profile that is not NixOS's system: run CMD after setting it
  --profile-path P       with --manifest: the profile to cover
  --receipt FILE         also write the receipt to FILE
USAGE
}

# seconds takes 120, 120s, 2m or 1h to seconds.
seconds() {
  case "$1" in
    *[!0-9smh]*|'') return 1 ;;
    *s) echo "${1%s}" ;;
    *m) echo $(( ${1%m} * 60 )) ;;
    *h) echo $(( ${1%h} * 3600 )) ;;
    *) echo "$1" ;;
  esac
}

# hold stops at a named point while JETUP_APPLY_HOLD names it, until a line
# arrives on stdin: how the tests kill an apply at a point they choose.
hold() {
  if [ "${JETUP_APPLY_HOLD:-}" = "$1" ]; then echo "jetup:held=$1"; read -r _ || :; fi
}

# clean keeps a detail short and safe inside a JSON string.
clean() { printf '%s' "$*" | tr '\n' ' ' | tr -cd 'A-Za-z0-9 ._:/,()=+@%-' | cut -c 1-400; }

# receipt writes the receipt: outcome, cause and detail; what the board runs.
receipt() {
  outcome=$1 cause=$2 detail=$(clean "$3")
  [ -d "$state" ] || mkdir -p "$state" 2>/dev/null || return 0
  mkdir -p "$state/receipts" 2>/dev/null || return 0
  f="$state/receipts/receipt-$sequence.json"
  now=$(readlink -f "$profile" 2>/dev/null); case "$now" in /nix/store/*) ;; *) now= ;; esac
  gen=$(readlink "$profile" 2>/dev/null); gen=${gen%-link}; gen=${gen##*-}; case "$gen" in ''|*[!0-9]*) gen=0 ;; esac
  {
    printf '{\n  "format": "jetup-receipt/1",\n  "board": "%s",\n  "sequence": %s,\n' "$(fingerprints | head -n 1)" "$((sequence))"
    printf '  "outcome": "%s",\n  "cause": "%s",\n  "detail": "%s",\n' "$outcome" "$cause" "$detail"
    printf '  "target": "%s",\n  "profile": "%s",\n  "system": "%s",\n  "generation": %s,\n' "$target" "$profile" "$now" "$gen"
    printf '  "generations": '; generations | generations_json
    printf ',\n  "previous": "%s",\n  "base_manifest": "%s",\n' "${previous_path:-}" "${base_manifest:-}"
    printf '  "added": '; json_list 2>/dev/null < "$work/added" || printf '[]'
    printf ',\n  "removed": '; json_list 2>/dev/null < "$work/removed" || printf '[]'
    printf ',\n  "decoder": "%s"' "$(decoder)"
    printf ',\n  "reboot_needed": '; printf '%s\n' ${reboot:-} | grep . | json_list 2>/dev/null || printf '[]'
    printf ',\n  "freed_bytes": %s,\n  "time": "%s"\n}\n' "${freed:-0}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } > "$f.tmp" && mv "$f.tmp" "$f" || return 0
  [ -n "$receipt_out" ] && cp "$f" "$receipt_out"
  say "receipt: $f"
}

# refuse stops before anything changed: exit 2.
refuse() {
  say "refused: $2"
  [ -n "${3:-}" ] && echo "next: $3"
  receipt refused "$1" "$2"
  cleanup
  exit 2
}

# fail stops after something changed: exit 1.
fail() {
  say "failed: $2"
  [ -n "${3:-}" ] && echo "next: $3"
  receipt "${4:-failed}" "$1" "$2"
  cleanup
  exit 1
}

cleanup() { [ -n "${work:-}" ] && [ "${keep_work:-}" != yes ] && rm -rf "$work"; }

# --- the bundle's bytes -------------------------------------------------------
# One file, or the parts --split wrote (FILE.part000, ...) side by side.

parts_base=
case "$bundle" in *.part000) parts_base=${bundle%.part000} ;; esac

part_file() { printf '%s.part%03d' "$parts_base" "$1"; }

# size is how many bytes of the bundle are here.
size() {
  if [ -z "$parts_base" ]; then wc -c < "$bundle"; return; fi
  n=0 k=0
  while [ -e "$(part_file $k)" ]; do n=$((n + $(wc -c < "$(part_file $k)"))); k=$((k + 1)); done
  echo "$n"
}

# all prints the whole bundle.
all() {
  if [ -z "$parts_base" ]; then cat "$bundle"; return; fi
  k=0; while [ -e "$(part_file $k)" ]; do cat "$(part_file $k)"; k=$((k + 1)); done
}

# range START LEN prints LEN bytes of the bundle from byte START.
range() {
  if [ -z "$parts_base" ]; then tail -c +$(($1 + 1)) "$bundle" 2>/dev/null | head -c "$2"; else all 2>/dev/null | tail -c +$(($1 + 1)) 2>/dev/null | head -c "$2"; fi
}

# part_hash K START LEN is the SHA-256 of that range, read from its part.
part_hash() {
  if [ -n "$parts_base" ]; then
    f=$(part_file "$1")
    [ -e "$f" ] || { echo missing; return; }
    tail -c +$(($2 - $1 * split_size + 1)) "$f" | head -c "$3" | sha256sum | cut -d ' ' -f 1
  else
    tail -c +$(($2 + 1)) "$bundle" | head -c "$3" | sha256sum | cut -d ' ' -f 1
  fi
}

# header KEY prints the signed header's value for KEY.
header() { sed -n "s/^$1 //p" "$work/header" | head -n 1; }

# nixv runs the nix command with what every call here needs.
nixv() { nix --extra-experimental-features nix-command --option substituters '' "$@"; }

# trusted adds the --trust-key keys to the board's own trusted-public-keys.
trusted() { if [ -n "$trust_keys" ]; then nixv "$@" --extra-trusted-public-keys "$trust_keys"; else nixv "$@"; fi; }

# --- checks: nothing on the board changes before all of them passed ----------

check() {
  have=$(size)
  [ "$have" -ge "$total_size" ] ||
    refuse truncated "the bundle is truncated: $have of $total_size bytes are here" \
      "copy it again (with --split, the short or missing part: jetup checks each one)"
  [ "$have" -eq "$total_size" ] ||
    refuse damaged "the bundle has $have bytes, its header says $total_size" "copy it again"

  mkdir -p "$work/h" "$work/b" && : > "$work/added" && : > "$work/removed"
  range "$script_size" "$header_size" | tar -xf - -C "$work/h" 2>"$work/err" ||
    refuse damaged "cannot read the bundle's header: $(cat "$work/err")" "copy the bundle again"
  hc="$work/h/jetup-bundle/header"
  [ -f "$hc/nix-cache-info" ] || refuse damaged "the bundle has no header" "copy the bundle again"
  if ! trusted store verify --store "file://$hc" "$header_path" > "$work/err" 2>&1; then
    if grep -q 'untrusted\|lacks a valid signature' "$work/err"; then
      refuse unsigned "the bundle is not signed by a key this board trusts (its nix trusted-public-keys, and --trust-key)" \
        "pass --trust-key with the public key of the key jetup bundle signed with, or add it to nix.settings.trusted-public-keys"
    fi
    refuse tampered "the bundle's header does not match its signature: $(tail -n 1 "$work/err")" "copy the bundle again from its source"
  fi
  nixv store cat --store "file://$hc" "$header_path" > "$work/header" 2>"$work/err" ||
    refuse damaged "cannot read the bundle's header: $(cat "$work/err")" "copy the bundle again"
  hold header

  # The script's own numbers must be the signed header's.
  for v in format sequence board target profile script_size header_size total_size split_size; do
    eval "mine=\$$v"
    [ "$(header "$v")" = "$mine" ] || refuse tampered "the script says $v=$mine, its signed header $(header "$v")" \
      "copy the bundle again from its source"
  done
  base_manifest=$(header base_manifest)
  fingerprints > "$work/keys"
  grep -qxF "$board" "$work/keys" ||
    refuse other-board "the bundle is for board $board; this board is $(head -n 1 "$work/keys")" \
      "send this board's manifest home (sh $bundle --manifest) and make a bundle for it"
  last=$(cat "$state/sequence" 2>/dev/null | tr -cd 0-9); last=${last:-0}
  if [ "$sequence" -le "$last" ]; then
    if [ "$sequence" -eq "$last" ] && [ "$(readlink -f "$profile" 2>/dev/null)" = "$target" ]; then
      refuse replay "bundle $sequence was applied already: this board runs its system" "nothing to do"
    fi
    refuse replay "bundle $sequence is not newer than the last bundle this board applied ($last): a replay or an old bundle" \
      "make a new bundle from the board's current manifest"
  fi

  # What it builds on, as its signed header lists it: a bundle made for
  # another state of this board is refused before the rest is read.
  { sed -n 's/^base //p' "$work/header"; grep -qxF "path $target" "$work/header" || echo "$target"; } | sort -u > "$work/base"
  valid_here "$work/base"

  # Every byte after the header, part by part, against the signed header.
  sed -n 's/^part //p' "$work/header" > "$work/parts"
  while read -r k start len sum; do
    got=$(part_hash "$k" "$start" "$len")
    if [ "$got" != "$sum" ]; then
      if [ -n "$parts_base" ] || [ "$split_size" -gt 0 ]; then
        refuse damaged "part $k of the bundle is damaged (bytes $start-$((start + len - 1)) differ from its signed header)" \
          "send $(basename "${parts_base:-$bundle}").part$(printf %03d "$k") again"
      fi
      refuse damaged "the bundle is damaged (bytes $start-$((start + len - 1)) differ from its signed header)" "copy it again"
    fi
  done < "$work/parts"
  hold parts

  sed -n 's/^path //p' "$work/header" > "$work/paths"
  # Room on /nix for the unpacked files and the NARs, with a margin.
  nar=$(header nar_size); files=$(header file_size)
  need=$((nar + files + nar / 10 + 64 * 1024 * 1024))
  free=$(df -Pk /nix | awk 'NR == 2 { printf "%.0f", $4 * 1024 }')
  [ "$free" -ge "$need" ] ||
    refuse no-space "/nix has $((free / 1048576)) MiB free; this bundle needs $((need / 1048576)) MiB ($((nar / 1048576)) MiB of NAR, $((files / 1048576)) MiB unpacked, and a margin)" \
      "free space on the board (nix-collect-garbage -d, or --keep N on the next bundle) and run it again"

  # Unpack the rest, then every path's signature (Nix checks them again on import).
  body=$((script_size + header_size))
  range "$body" $((total_size - body)) | tar -xf - -C "$work/b" 2>"$work/err" ||
    refuse damaged "cannot unpack the bundle: $(tail -n 1 "$work/err")" "copy the bundle again"
  cache="$work/b/jetup-bundle/cache"
  hold unpacked
  if [ -s "$work/paths" ]; then
    # shellcheck disable=SC2046 # store paths have no spaces
    if ! trusted store verify --no-contents --store "file://$cache" $(cat "$work/paths") > "$work/err" 2>&1; then
      refuse unsigned "a path of the bundle is not signed by a key this board trusts: $(grep -m 1 untrusted "$work/err")" \
        "pass --trust-key with the public key of the key jetup bundle signed with"
    fi
  fi
  builds_on
  deltas
  say "checked bundle $sequence for $board: $(wc -l < "$work/paths") paths ($((nar / 1048576)) MiB of NAR) on top of $(wc -l < "$work/base") already here, target $target"
  reboot=$(needs_reboot); reboot=${reboot% }
  [ -z "$reboot" ] || say "a reboot is needed to run its $(echo $reboot | sed 's/ /, /g') (not the booted system's): --switch activates the rest now"
}

# builds_on checks that every path the bundle builds on is here: each path
# its signed narinfos refer to that it does not carry, the target when it
# does not carry it, and the bases of its deltas.
builds_on() {
  {
    if [ -s "$work/paths" ]; then
      sed -n 's/^References: //p' "$cache"/*.narinfo | tr ' ' '\n' | sed -n 's|^\([0-9a-z]\)|/nix/store/\1|p'
    fi
    echo "$target"
    sed -n 's/^delta [^ ]* //p' "$work/header"
  } | sort -u > "$work/refs"
  sort -u "$work/paths" > "$work/sent"
  comm -23 "$work/refs" "$work/sent" > "$work/base"
  valid_here "$work/base"
}

# valid_here refuses unless every path listed in FILE is valid in this
# board's store.
valid_here() {
  [ -s "$1" ] || return 0
  xargs nix-store --check-validity --print-invalid < "$1" > "$work/missing" 2>"$work/err" ||
    refuse store "cannot check this board's store: $(tail -n 1 "$work/err")" "check the store: nix-store --verify"
  if [ -s "$work/missing" ]; then
    refuse missing-base "the bundle was made for another state of this board: $(wc -l < "$work/missing") paths it builds on are missing, as $(head -n 1 "$work/missing")" \
      "send this board's manifest home (sh $bundle --manifest > manifest.json) and make the bundle again against it"
  fi
}

# deltas rebuilds each NAR the bundle sent as a zstd delta against the
# board's own copy of an older path, and checks the result against the
# NarHash of the path's signed narinfo before anything is imported.
deltas() {
  sed -n 's/^delta //p' "$work/header" > "$work/deltas"
  [ -s "$work/deltas" ] || return 0
  decoder_bin
  while read -r p old; do
    h=${p#/nix/store/}; h=${h%%-*}
    out="$cache/nar/$h.nar"
    nix-store --dump "$old" > "$work/old.nar" 2>"$work/err" ||
      refuse missing-base "cannot read $old, the base of a delta: $(tail -n 1 "$work/err")" "make the bundle again against this board's manifest"
    "$zstd_bin" -q -d -f --long=31 --patch-from="$work/old.nar" "$cache/delta/$h.zst" -o "$out" 2>"$work/err" ||
      refuse damaged "cannot decode the delta for $p: $(tail -n 1 "$work/err")" "copy the bundle again"
    want=$(sed -n 's/^NarHash: //p' "$cache/$h.narinfo")
    got="sha256:$(nix-hash --type sha256 --flat --base32 "$out")"
    [ "$got" = "$want" ] ||
      refuse delta-mismatch "the NAR rebuilt for $p from $old is not the one its signed narinfo names" \
        "this board's copy of $old differs from home's: make the bundle again with --no-deltas"
    sed -e "s|^URL: .*|URL: nar/$h.nar|" -e 's|^Compression: .*|Compression: none|' -e '/^FileHash:/d' -e '/^FileSize:/d' \
      "$cache/$h.narinfo" > "$cache/$h.narinfo.new" && mv "$cache/$h.narinfo.new" "$cache/$h.narinfo"
  done < "$work/deltas"
  rm -f "$work/old.nar"
  say "rebuilt $(wc -l < "$work/deltas") paths from binary deltas against this board's own paths"
}

# needs_reboot names what of the target runs only after a reboot: its
# kernel, initrd, kernel modules or firmware differ from the booted
# system's (what nixos-needsreboot compares, less systemd, which
# switch-to-configuration re-executes).
needs_reboot() {
  [ "$profile" = /nix/var/nix/profiles/system ] && [ -e /run/booted-system ] || return 0
  target_links > "$work/links"
  for part in kernel initrd kernel-modules firmware; do
    [ "$(sed -n "s|^$part ||p" "$work/links")" = "$(readlink "/run/booted-system/$part" 2>/dev/null)" ] || printf '%s ' "$part"
  done
}

# target_links prints the target's top-level links as "name destination"
# lines: from the store when the target is here, else from the bundle's
# cache (before anything is imported).
target_links() {
  if nix-store --check-validity "$target" 2>/dev/null; then
    for part in kernel initrd kernel-modules firmware; do
      l=$(readlink "$target/$part" 2>/dev/null) && echo "$part $l"
    done
  else
    nixv store ls --store "file://$cache" -l "$target" 2>/dev/null | sed -n 's|^l.* \./\([a-z-]*\) -> \(/nix/store/.*\)$|\1 \2|p'
  fi
}

# decoder_bin finds the zstd that decodes the deltas: the one the bundle
# ships (already in the store, or read from the bundle once its NAR
# matches its signed narinfo: nothing is imported yet), else the one an
# earlier bundle shipped, else the board's own.
decoder_bin() {
  dec=$(header decoder)
  if [ -n "$dec" ] && nix-store --check-validity "$dec" 2>/dev/null; then
    zstd_bin=$dec/bin/zstd
  elif [ -n "$dec" ]; then
    trusted store verify --store "file://$cache" "$dec" > "$work/err" 2>&1 ||
      refuse tampered "the delta decoder the bundle carries does not match its signed narinfo: $(tail -n 1 "$work/err")" "copy the bundle again from its source"
    { nixv store cat --store "file://$cache" "$dec/bin/zstd" > "$work/zstd" && chmod 700 "$work/zstd"; } 2>"$work/err" ||
      refuse damaged "cannot read the delta decoder from the bundle: $(tail -n 1 "$work/err")" "copy the bundle again"
    zstd_bin=$work/zstd
  elif [ -x "$state/decoder/bin/zstd" ]; then
    zstd_bin=$state/decoder/bin/zstd
  elif command -v zstd >/dev/null 2>&1; then
    zstd_bin=zstd
  else
    refuse no-decoder "the bundle carries binary deltas and this board has no zstd to decode them" \
      "make the bundle again against a manifest made on this board (it records whether it can decode deltas), or with --decoder"
  fi
  "$zstd_bin" -V >/dev/null 2>&1 ||
    refuse no-decoder "the delta decoder $zstd_bin does not run on this board" "make the bundle again with a decoder built for $(uname -m), or with --no-deltas"
}

# keep_decoder makes the decoder the bundle shipped this board's own, kept
# from garbage collection; the manifest names it from now on.
keep_decoder() {
  dec=$(header decoder)
  [ -n "$dec" ] && [ -x "$dec/bin/zstd" ] || return 0
  ln -sfn "$dec" "$state/decoder" && ln -sfn "$dec" /nix/var/nix/gcroots/jetup-decoder
}

# --- apply ------------------------------------------------------------------

gen_of() { g=$(readlink "$profile" 2>/dev/null) || return 0; g=${g%-link}; echo "${g##*-}"; }

# activate runs the profile's activation: switch-to-configuration for the
# system (under systemd-run where systemd runs, as nixos-rebuild does, so a
# dropped session cannot cut it short), --activate CMD for another profile.
activate() {
  action=$1
  if [ "$profile" = /nix/var/nix/profiles/system ] && [ -x "$profile/bin/switch-to-configuration" ]; then
    if command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemd-run -E LOCALE_ARCHIVE -E NIXOS_INSTALL_BOOTLOADER --collect --no-ask-password --pipe --quiet \
        --same-dir --service-type=exec --unit="jetup-apply-$sequence-$$" --wait \
        "$profile/bin/switch-to-configuration" "$action"
    else
      "$profile/bin/switch-to-configuration" "$action"
    fi
  elif [ -n "$activate_cmd" ] && [ "$action" = switch ]; then
    JETUP_PROFILE=$profile sh -c "$activate_cmd"
  fi
}

# healthy: systemd's own verdict (not degraded, not failing), then --health,
# retried until both pass or the confirm timeout ends.
healthy() {
  deadline=$(( $(date +%s) + confirm ))
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    st=$(timeout "$confirm" systemctl is-system-running --wait 2>/dev/null)
    case "$st" in
      running) say "systemd: running" ;;
      *) say "systemd: ${st:-no answer} within ${confirm}s"; return 1 ;;
    esac
  fi
  [ -n "$health" ] || return 0
  while :; do
    left=$((deadline - $(date +%s)))
    [ "$left" -gt 0 ] || { say "health check ($health) did not pass within ${confirm}s"; return 1; }
    hold health
    if timeout "$left" sh -c "$health" > "$work/health" 2>&1; then say "health check passed: $health"; return 0; fi
    sleep 1
  done
}

# rollback goes back to the last confirmed generation and drops the new one.
rollback() {
  why=$1
  if [ -z "$previous" ]; then
    fail "$2" "$why; there is no earlier generation to go back to" "fix the system and apply a new bundle" rolled-back
  fi
  say "rolling back to generation $previous: $why"
  nix-env -p "$profile" --switch-generation "$previous" || fail rollback-failed "$why, and switching back to generation $previous failed" \
    "on the board: nix-env -p $profile --rollback, then activate it"
  hold rollback
  activate switch || say "the previous system's activation reported errors too"
  [ -n "$new_gen" ] && [ "$new_gen" != "$previous" ] && nix-env -p "$profile" --delete-generations "$new_gen" >/dev/null 2>&1
  rm -f "$state/pending" /nix/var/nix/gcroots/jetup-pending
  fail "$2" "$why; rolled back to generation $previous ($previous_path)" "fix the system and make a new bundle" rolled-back
}

apply() {
  action=$1
  # The last confirmed generation is the one to come back to, also when an
  # earlier run was cut short after switching (it is in the pending file).
  previous=$(sed -n 's/^previous //p' "$state/pending" 2>/dev/null)
  [ -f "$state/pending" ] || previous=$(gen_of)
  previous_path=; [ -n "$previous" ] && previous_path=$(readlink -f "$profile-$previous-link" 2>/dev/null)
  printf 'sequence %s\nprevious %s\n' "$sequence" "$previous" > "$state/pending.new" && mv "$state/pending.new" "$state/pending" ||
    fail state "cannot write $state/pending" "check that /nix/var is writable"
  ln -sfn "$target" /nix/var/nix/gcroots/jetup-pending
  hold pending

  # shellcheck disable=SC2046 # store paths have no spaces
  [ -s "$work/paths" ] && xargs nix-store --check-validity --print-invalid < "$work/paths" > "$work/added" 2>/dev/null
  if [ -s "$work/paths" ]; then
    say "importing $(wc -l < "$work/paths") paths with this board's nix"
    trusted copy --no-recursive --from "file://$cache" $(cat "$work/paths") 2>"$work/err" ||
      fail import-failed "importing the bundle failed: $(tail -n 2 "$work/err" | tr '\n' ' ')" "check the board's store (nix-store --verify) and run it again"
  fi
  keep_decoder
  hold imported
  nix-env -p "$profile" --set "$target" || fail profile "could not set $profile to $target" "check /nix/var/nix/profiles and run it again"
  new_gen=$(gen_of)
  hold profile
  if [ "$action" = boot ]; then
    activate boot || {
      nix-env -p "$profile" --switch-generation "$previous" 2>/dev/null
      fail activation-failed "switch-to-configuration boot failed; the profile is back on generation $previous" "fix the system and make a new bundle"
    }
    outcome=booted
    say "generation $new_gen is the next boot's system: reboot to run it (a rollback covers a live --switch only; this one is not guarded at boot)"
  else
    say "activating generation $new_gen"
    activate switch || rollback "the activation failed" activation-failed
    hold activated
    healthy || rollback "the health check failed" unhealthy
    outcome=switched
    say "generation $new_gen is confirmed: $target"
    [ -n "$reboot" ] &&
      say "a reboot is needed to run the new system's $(echo $reboot | sed 's/ /, /g'): until then the board runs the booted one's; the rollback here covered this live switch only, nothing guards the reboot"
    [ "$keep" -gt 0 ] && collect
  fi
  hold commit
  receipt "$outcome" "" "generation $new_gen"
  rm -f "$state/pending" /nix/var/nix/gcroots/jetup-pending
  echo "$sequence" > "$state/sequence.new" && mv "$state/sequence.new" "$state/sequence"
  hold committed
  cleanup
  exit 0
}

# collect keeps --keep generations and collects garbage with the board's nix.
collect() {
  nix-env -p "$profile" --delete-generations "+$keep" >/dev/null 2>&1
  nix-store --gc --print-dead 2>/dev/null > "$work/dead"
  out=$(nix-store --gc 2>&1 | tail -n 1)
  while read -r p; do [ -e "$p" ] || echo "$p"; done < "$work/dead" > "$work/removed"
  freed=$(echo "$out" | sed -n 's/.*, \([0-9.]*\) MiB freed.*/\1/p' | awk '{ printf "%.0f", $1 * 1048576 }')
  say "kept $keep generations; garbage collected: ${out:-nothing}"
}

# --- main -----------------------------------------------------------------

main() {
  mode= trust_keys= confirm=120 health= keep=0 activate_cmd= receipt_out= work= reboot=
  while [ $# -gt 0 ]; do
    case "$1" in
      --check|--switch|--boot|--manifest) mode=${1#--} ;;
      --trust-key|--confirm-timeout|--health|--keep|--activate|--profile-path|--receipt)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        case "$1" in
          --trust-key)
            k=$(tr -d ' \n' < "$2") || exit 2
            case "$k" in *:*) ;; *) say "$2 is not a Nix public key (name:base64)" >&2; exit 2 ;; esac
            trust_keys="${trust_keys:+$trust_keys }$k" ;;
          --confirm-timeout) confirm=$(seconds "$2") || { say "--confirm-timeout $2: use 120s, 2m or 1h" >&2; exit 2; } ;;
          --health) health=$2 ;;
          --keep) case "$2" in ''|*[!0-9]*) say "--keep $2: a number of generations" >&2; exit 2 ;; esac; keep=$2 ;;
          --activate) activate_cmd=$2 ;;
          --profile-path) profile=$2 ;;
          --receipt) receipt_out=$2 ;;
        esac
        shift ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; exit 2 ;;
    esac
    shift
  done
  case "$mode" in
    manifest) manifest; exit $? ;;
    check|switch|boot) ;;
    *) usage >&2; exit 2 ;;
  esac
  trap '' HUP PIPE
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$state" && work="$state/work" && rm -rf "$work" && mkdir -p "$work" || { say "cannot write $state" >&2; exit 2; }
  elif [ "$mode" = check ]; then
    work=$(mktemp -d) || exit 2
  else
    say "run it as root: it imports into the Nix store and switches the system" >&2; exit 2
  fi
  check
  if [ "$mode" = check ]; then
    receipt checked "" "all checks passed"
    cleanup
    exit 0
  fi
  apply "$mode"
}
