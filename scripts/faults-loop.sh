#!/usr/bin/env bash
# Runs the whole fault suite (npm run test:faults) N times in a row and prints how many runs failed.
# Not part of CI: it is how we check that the suite never flakes. Run it on a quiet machine (the soak
# alone opens 2,000 WebSockets): it prints the load average before each run so a busy machine shows.
#
#   scripts/faults-loop.sh [N]        N defaults to 20; the logs of failed runs are kept in $LOG_DIR
set -uo pipefail
cd "$(dirname "$0")/.."
# The loop soaks longer than CI does (60 s of posting instead of 36 s).
export SOAK_POSTS_PER_CONNECTION="${SOAK_POSTS_PER_CONNECTION:-10}"

runs="${1:-20}"
log_dir="${LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/lakechat-faults-loop-XXXXXX")}"
mkdir -p "$log_dir"
failed=0
started=$SECONDS

for ((run = 1; run <= runs; run++)); do
  load="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
  run_started=$SECONDS
  log="$log_dir/run-$run.log"
  if npm run --silent test:faults >"$log" 2>&1; then
    echo "run $run/$runs: passed in $((SECONDS - run_started)) s (load average before: $load)"
    rm -f "$log"
  else
    failed=$((failed + 1))
    echo "run $run/$runs: FAILED in $((SECONDS - run_started)) s (load average before: $load); log: $log"
    grep -E '(FAIL|AssertionError|Error:)' "$log" | head -n 10 | sed 's/^/    /'
  fi
done

echo "fault suite: $failed of $runs runs failed ($((SECONDS - started)) s in all)"
[ "$failed" -eq 0 ]
