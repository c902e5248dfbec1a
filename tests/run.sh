#!/usr/bin/env bash
# The project's test command (README; CI runs exactly this through .ci/run).
#
#   bash tests/run.sh                       # CI set: TAO 6.25.11, 7.2.0, 7.3.0
#   TAO_VERSIONS=all bash tests/run.sh      # every release that ships Sparse4D
#   TSF_TEST_SKIP_E2E=1 ...         # unit + start-up only (a faster inner loop)
#   TSF_TEST_JOBS=1 ...             # one suite at a time (default: 2, side by side)
#
# Builds (or reuses) the cached CPU environment with the real TAO wheels from
# the registry, installs the plugin non-editably, then runs: the start-up tests
# under Python 3.11 and 3.12, the TAO launcher and bundle tests (the real
# nvidia-tao launcher in a host venv without torch), `sdk`'s arguments through NVIDIA's TAO SDK
# (nvidia-tao-sdk, same host venv), sparse4d's jobs through TAO's fine-tuning microservices' own
# code (nvidia-tao-core 6.26.3 and 7.3.0, FTMS venv), the unit and harness tests against each TAO
# release (those of the plugin's own logic on the first release only), the end-to-end tests
# through TAO's own `sparse4d train` entrypoint (6.25.11), and the evidence benchmark's validity labels and --quick mode.
#
# Every environment is built first, one after the other (they share the package cache);
# then the suites run TSF_TEST_JOBS at a time, longest first (most wait on subprocesses).
# Each suite's output goes to its own file, printed whole when the suite fails; the
# end lists each suite's wall and CPU time (user + system, its processes included).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$(date +%s)

versions=${TAO_VERSIONS:-6.25.11 7.2.0 7.3.0}
if [ "$versions" = all ]; then
  versions=$(python3 -c 'from harness import testenv; print(*testenv.ALL_TAO)')
fi
# 7.3.0 is always built: unmatched_only is checked against its own FocalLoss.
# Every build's output (pip's included: on some machines hundreds of `WARNING: Location ... is ignored`)
# goes to one file, printed only when a build fails: the first screen of this command is the project's own.
envlog=$(mktemp "${TMPDIR:-/tmp}/tsf-envs.XXXXXX")
echo "environments: building or checking (output: $envlog)"
hostpy=$(mktemp "${TMPDIR:-/tmp}/tsf-hostpy.XXXXXX")
# the host, FTMS and evidence-metrics venvs and the tiny backbone: built here, before suites share them
if ! { python3 harness/testenv.py ensure --tao $versions 7.3.0 &&
       python3 -c '
import sys
from harness import testenv, tiny
from bench.evidence import runs
testenv.ensure_ftms(); runs.metrics_venv(); tiny.backbone_checkpoint()
open(sys.argv[1], "w").write(str(testenv.ensure_host()))' "$hostpy"; } >"$envlog" 2>&1; then
  cat "$envlog"
  echo "environment build failed (output above, and in $envlog)"
  exit 1
fi
host_python=$(cat "$hostpy")
echo "environments ready in $(( $(date +%s) - t0 )) s"

logs=$(mktemp -d "${TMPDIR:-/tmp}/tsf-tests.XXXXXX")
names=() argvs=() labels=()
suite() {  # suite NAME COMMAND...: queued in the order given (longest first)
  names+=("$1")
  shift
  labels+=("$*")
  argvs+=("$(printf '%q ' "$@")")
}
venv_python="${TSF_TEST_CACHE:-$HOME/.cache/tao-sparse4d-fix}/venv/bin/python"

if [ -z "${TSF_TEST_SKIP_E2E:-}" ]; then
  # in two halves side by side: the tests that read the session's shared TAO run (built once) and the rest
  suite "end-to-end tests, TAO 6.25.11: training, multi-node, export" \
    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q -p no:cacheprovider -m "e2e and not tao_run" tests/e2e
  suite "end-to-end tests, TAO 6.25.11: the shared trained run (inference, inspect, evaluate, checkpoints)" \
    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q -p no:cacheprovider -m "e2e and tao_run" tests/e2e
fi
# The unit and harness tests: those marked per_release on every release, those marked once (the plugin's own
# logic, never TAO's code) on the first release only (tests/unit/conftest.py; docs/development.md lists them).
release_only=
for version in $versions; do
  suite "unit tests, TAO $version${release_only:+ (the tests that depend on the release)}" \
    env TSF_TEST_TAO="$version" TSF_TEST_RELEASE_ONLY="${release_only:-0}" \
    python3 harness/testenv.py run --tao "$version" -- python -m pytest -q -p no:cacheprovider tests/unit tests/harness
  release_only=1
done
if [ -z "${TSF_TEST_SKIP_E2E:-}" ]; then
  suite "evidence benchmark: validity labels and the quick mode, TAO 6.25.11" \
    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q -p no:cacheprovider tests/bench
fi
suite "fault-injection tests: the user's files under crashes, failures, concurrency (host venv)" \
  "$venv_python" -m pytest -q -p no:cacheprovider tests/faults
suite "FTMS job tests (FTMS venv: nvidia-tao-core 6.26.3 and 7.3.0 microservices, no torch)" \
  "$venv_python" -m pytest -q -p no:cacheprovider tests/ftms
suite "TAO launcher and bundle tests (host venv: nvidia-tao 6.26.3, no torch)" \
  "$venv_python" -m pytest -q -p no:cacheprovider tests/launcher
suite "TAO SDK job tests (host venv: nvidia-tao-sdk 7.2.0, no torch)" \
  "$venv_python" -m pytest -q -p no:cacheprovider tests/sdk
suite "start-up tests, Python 3.11" "$venv_python" -m pytest -q -p no:cacheprovider tests/startup
suite "start-up tests, Python 3.12" bash tests/startup/run_py312.sh -q
suite "inspect tests (host venv: no numpy, no torch, no TAO, no pytest)" \
  "$host_python" tests/inspect/run_plain.py -q

run_suite() {  # in the background: output, exit status, wall and CPU seconds into $logs/<i>.*
  local i=$1 start
  start=$(date +%s.%N)
  (
    eval "${argvs[$i]}" >"$logs/$i.log" 2>&1 </dev/null
    rc=$?
    times >"$logs/$i.times"  # its own, then its children's user and system time (not in a pipe: a forked times reads 0)
    exit "$rc"
  )
  local rc=$?
  echo "$start $(date +%s.%N)" >"$logs/$i.wall"
  echo "$rc" >"$logs/$i.rc"
}
seconds() { awk '{ s = 0; for (f = 1; f <= NF; f++) { split($f, p, "m"); s += p[1] * 60 + p[2] } printf "%.0f", s }'; }

jobs_max=${TSF_TEST_JOBS:-2}
failed=() reported=() running=0 next=0 total=${#names[@]}
rows=()
while [ ${#reported[@]} -lt "$total" ]; do
  while [ "$running" -lt "$jobs_max" ] && [ "$next" -lt "$total" ]; do
    run_suite "$next" &
    running=$((running + 1))
    next=$((next + 1))
  done
  wait -n
  for ((i = 0; i < next; i++)); do
    [ -e "$logs/$i.rc" ] && [ -z "${reported[$i]:-}" ] || continue
    reported[$i]=1
    running=$((running - 1))
    rc=$(cat "$logs/$i.rc")
    wall=$(awk '{ printf "%.0f", $2 - $1 }' "$logs/$i.wall")
    cpu=$(tail -n 1 "$logs/$i.times" | seconds)
    rows+=("$(printf '%6s s %6s s  %s' "$wall" "$cpu" "${names[$i]}")")
    echo "=== ${names[$i]}"
    if [ "$rc" -eq 0 ]; then
      tail -n 2 "$logs/$i.log"
      echo "--- passed: wall ${wall} s, CPU ${cpu} s (output: $logs/$i.log)"
    else
      cat "$logs/$i.log"
      echo "--- FAILED (exit status $rc): wall ${wall} s, CPU ${cpu} s (output: $logs/$i.log)"
      failed+=("${labels[$i]}")
    fi
  done
done

echo
echo "  wall      CPU  suite (CPU: user + system; load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%s\n' "${rows[@]}"
echo "total: $(( $(date +%s) - t0 )) s wall, environments included, $jobs_max suites at a time; $(nproc) cores"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all test suites passed"
