#!/usr/bin/env bash
# The project's test command (README; CI runs exactly this through .ci/run).
#
#   bash tests/run.sh                       # CI set: TAO 6.25.11, 7.2.0, 7.3.0
#   TAO_VERSIONS=all bash tests/run.sh      # every release that ships Sparse4D
#   TSF_TEST_SKIP_E2E=1 ...         # unit + start-up only (a faster inner loop)
#
# Builds (or reuses) the cached CPU environment with the real TAO wheels from
# the registry, installs the plugin non-editably, then runs: the start-up tests
# under Python 3.11 and 3.12, the TAO launcher and bundle tests (the real
# nvidia-tao launcher in a host venv without torch), `sdk`'s arguments through NVIDIA's TAO SDK
# (nvidia-tao-sdk, same host venv), sparse4d's jobs through TAO's fine-tuning microservices' own
# code (nvidia-tao-core 6.26.3 and 7.3.0, FTMS venv), the unit and harness tests against each TAO
# release, the end-to-end tests through TAO's own `sparse4d train` entrypoint
# (6.25.11), and the evidence benchmark's validity labels and --quick mode.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

versions=${TAO_VERSIONS:-6.25.11 7.2.0 7.3.0}
if [ "$versions" = all ]; then
  versions=$(python3 -c 'from harness import testenv; print(*testenv.ALL_TAO)')
fi
# 7.3.0 is always built: unmatched_only is checked against its own FocalLoss.
python3 harness/testenv.py ensure --tao $versions 7.3.0 | tail -n +1 >/dev/null || { echo "environment build failed"; exit 1; }

failed=()
step() {
  echo "=== $1"
  shift
  "$@" || failed+=("$*")
}
venv_python="${TSF_TEST_CACHE:-$HOME/.cache/tao-sparse4d-fix}/venv/bin/python"

step "start-up tests, Python 3.11" "$venv_python" -m pytest -q -p no:cacheprovider tests/startup
step "start-up tests, Python 3.12" bash tests/startup/run_py312.sh -q
step "TAO launcher and bundle tests (host venv: nvidia-tao 6.26.3, no torch)" \
  "$venv_python" -m pytest -q -p no:cacheprovider tests/launcher
step "fault-injection tests: the user's files under crashes, failures, concurrency (host venv)" \
  "$venv_python" -m pytest -q -p no:cacheprovider tests/faults
host_python=$(python3 -c 'from harness import testenv; print(testenv.ensure_host())' | tail -n 1)
step "inspect tests (host venv: no numpy, no torch, no TAO, no pytest)" \
  "$host_python" tests/inspect/run_plain.py -q
step "TAO SDK job tests (host venv: nvidia-tao-sdk 7.2.0, no torch)" \
  "$venv_python" -m pytest -q -p no:cacheprovider tests/sdk
step "FTMS job tests (FTMS venv: nvidia-tao-core 6.26.3 and 7.3.0 microservices, no torch)" \
  "$venv_python" -m pytest -q -p no:cacheprovider tests/ftms
for version in $versions; do
  step "unit tests, TAO $version" env TSF_TEST_TAO="$version" \
    python3 harness/testenv.py run --tao "$version" -- python -m pytest -q -p no:cacheprovider tests/unit tests/harness
done
if [ -z "${TSF_TEST_SKIP_E2E:-}" ]; then
  step "end-to-end tests, TAO 6.25.11" \
    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q -p no:cacheprovider -m e2e tests/e2e
  step "evidence benchmark: validity labels and the quick mode, TAO 6.25.11" \
    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q -p no:cacheprovider tests/bench
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all test suites passed"
