#!/bin/sh
# make test-stress: the suite on a busy machine. stress-ng keeps two CPUs
# busy beside the whole suite (the packages whose tests race the clock
# most, tui, serialcon, flash and deploy, run three times); then every
# fuzz target in the repository runs for FUZZTIME each (found by name, so
# a new `func FuzzX` is included without touching this file). stress-ng
# is stopped however the run ends. Exit status 1 if anything failed; the
# summary at the end names what.
set -u

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}
REPEATED="./tui/ ./serialcon/ ./flash/... ./deploy/"

if ! command -v stress-ng >/dev/null 2>&1; then
  echo "test-stress: stress-ng is missing (scripts/deps.sh test installs it)" >&2
  exit 2
fi

stress=""
stop_stress() {
  if [ -n "$stress" ]; then
    kill "$stress" 2>/dev/null
    wait "$stress" 2>/dev/null
    stress=""
  fi
}
trap 'stop_stress' EXIT
trap 'stop_stress; exit 130' INT TERM

failed=""
note() { failed="$failed
  $1"; }

# --timeout: a backstop should this script be killed with SIGKILL.
stress-ng --cpu 2 --timeout 4h --quiet &
stress=$!
echo "test-stress: stress-ng --cpu 2 running (pid $stress)"

start=$(date +%s)
# shellcheck disable=SC2046
others=$($GO list ./... | grep -v -e '/tui$' -e '/serialcon$' -e '/flash$' -e '/flash/' -e '/deploy$')
# shellcheck disable=SC2086
$GO test -race -count=1 -timeout 30m $others || note "go test -count=1 (every package but $REPEATED)"
# shellcheck disable=SC2086
$GO test -race -count=3 -timeout 60m $REPEATED || note "go test -count=3 $REPEATED"
echo "test-stress: suite under stress took $(( $(date +%s) - start ))s"
stop_stress

# Every fuzz target, each for FUZZTIME (one -fuzz per go test run is all
# Go allows).
fstart=$(date +%s)
for f in $(git ls-files '*_test.go'); do
  for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
    echo "test-stress: fuzzing $name ($(dirname "$f")) for $FUZZTIME"
    $GO test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" "./$(dirname "$f")" || note "fuzz $name in ./$(dirname "$f")"
  done
done
echo "test-stress: fuzzing took $(( $(date +%s) - fstart ))s"

if [ -n "$failed" ]; then
  echo "test-stress: FAILED:$failed" >&2
  exit 1
fi
echo "test-stress: ok"
