#!/usr/bin/env bash
# The main job, on a CPU: the seed report's scenario on TAO's own Sparse4D (nvidia-tao-pytorch
# 6.25.11 from the registry, its unchanged `sparse4d train -e spec.yaml` and inference path).
# A working model (trained once with the fix, then cached) is fine-tuned on new scenes with TAO's
# stock loss and with the fix side by side; it ends with held-out numbers from this run and
# whether each run is valid (bench/demo.py says what they can and cannot show).
#
#   bash demo.sh [--finetune-steps N]   (default 80; about 3.5 minutes on 2 idle cores once the base is cached,
#                                        18 on a fresh machine: environment 3, base model 12)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
echo "demo: preparing the CPU environment (CPU torch, TAO 6.25.11 from the registry; about 3 minutes the first time, cached after)"
start=$(date +%s)
log=$(mktemp)
python3 harness/testenv.py ensure --tao 6.25.11 >"$log" 2>&1 || { tail -n 40 "$log"; echo "demo: environment build failed (log: $log)"; exit 1; }
echo "demo: environment ready in $(( $(date +%s) - start )) s"
python3 harness/testenv.py run --tao 6.25.11 -- python -m bench.demo "$@"
