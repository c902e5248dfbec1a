#!/usr/bin/env bash
# The main job, on a CPU: TAO's own Sparse4D training (nvidia-tao-pytorch 6.25.11 from the
# registry, its unchanged `sparse4d train -e spec.yaml` entrypoint) on a small synthetic
# dataset, with TAO's stock loss (mode `original`) and with the fix (`corrected`) side by
# side, then the numbers that run measured (bench/demo.py says what they can and cannot show).
#
#   bash demo.sh [--steps N]        (default 60 steps per arm; about 1.5 minutes on 2 idle cores)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
python3 harness/testenv.py ensure --tao 6.25.11 >/dev/null
python3 harness/testenv.py run --tao 6.25.11 -- python bench/demo.py "$@"
