#!/usr/bin/env bash
# Run tests/startup under Python 3.12 (the TAO container's version).
#
#   tests/startup/run_py312.sh [pytest args...]
#
# The interpreter: $PYTHON312 if set, else the first of python3.12 on PATH
# (when it actually runs: a pyenv shim may not) and ~/.pyenv/versions/3.12*/.
# pytest and hypothesis go into a runner venv under the cache
# (${TSF_TEST_CACHE:-~/.cache/tao-sparse4d-fix}/startup-runner-py3.12),
# made once; the tests then build their own plugin venv from that interpreter.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${TSF_TEST_CACHE:-$HOME/.cache/tao-sparse4d-fix}

works() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; }

py=${PYTHON312:-}
if ! works "$py"; then
    py=""
    for candidate in "$(command -v python3.12 || true)" "$HOME"/.pyenv/versions/3.12*/bin/python3.12 \
                     /usr/bin/python3.12 /usr/local/bin/python3.12 "$(command -v python3 || true)"; do
        if works "$candidate"; then py=$candidate; break; fi
    done
fi
if [ -z "$py" ]; then
    echo "run_py312.sh: no Python 3.12 found; set PYTHON312=/path/to/python3.12" >&2
    exit 2
fi
# The real binary, not a shim, so the runner venv is tied to one interpreter.
py=$("$py" -c 'import os, sys; print(os.path.realpath(sys.executable))')

runner=$cache/startup-runner-py3.12
if ! "$runner/bin/python" -c 'import pytest, hypothesis' >/dev/null 2>&1 \
   || [ "$("$runner/bin/python" -c 'import os, sys; print(os.path.realpath(sys._base_executable))' 2>/dev/null)" != "$py" ]; then
    rm -rf "$runner"
    "$py" -m venv "$runner"
    "$runner/bin/python" -m pip install --disable-pip-version-check -q pytest hypothesis
fi

cd "$here/../.."
exec "$runner/bin/python" -m pytest tests/startup -p no:cacheprovider "$@"
