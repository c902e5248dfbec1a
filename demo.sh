#!/usr/bin/env bash
# The main job, on a CPU: TAO's own Sparse4D training (nvidia-tao-pytorch 6.25.11
# from the registry, its unchanged `sparse4d train -e spec.yaml` entrypoint) on a
# small synthetic dataset, once with TAO's stock loss (mode `original`) and once
# with the fix (`corrected`), then the per-step scores of unmatched queries side
# by side, as TensorBoard records them.
#
#   bash demo.sh [STEPS]        (default 40 steps per arm; about 1.5 minutes per arm)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
steps=${1:-40}
work=$(mktemp -d)
run() { python3 harness/testenv.py run --tao 6.25.11 -- "$@"; }

python3 harness/testenv.py ensure --tao 6.25.11 >/dev/null
run python harness/synthetic_data.py --out "$work/data" --seed 0 --scenes 2 --frames "$steps"
for mode in original corrected; do
  run python harness/tiny.py spec --data "$work/data" --results "$work/$mode" --out "$work/$mode.yaml" --steps "$steps" >/dev/null
  echo "=== sparse4d train -e $mode.yaml model.head.loss.cls.background_supervision=$mode (TAO_SPARSE4D_FIX=1)"
  TAO_SPARSE4D_FIX=1 run sparse4d train -e "$work/$mode.yaml" "model.head.loss.cls.background_supervision=$mode" \
    > "$work/$mode.log" 2>&1 || { tail -40 "$work/$mode.log"; exit 1; }
  grep -A9 "^tao-sparse4d-fix .* on nvidia-tao-pytorch" "$work/$mode.log"
done
run python - "$work" <<'PY'
import sys
sys.path.insert(0, "harness")
from read_logs import read_scalars
work = sys.argv[1]
arms = {mode: read_scalars(f"{work}/{mode}") for mode in ("original", "corrected")}
keys = ["bgsup/unmatched_score_mean", "bgsup/unmatched_above_threshold_per_sample", "loss_cls_5"]
print("\nper-step, last decoder layer (unmatched = queries no ground-truth box was matched to):")
print("| step | " + " | ".join(f"{k} ({m})" for k in keys for m in arms) + " |")
print("|---" * (1 + len(keys) * len(arms)) + "|")
steps = sorted({s for m in arms for s, _ in arms[m].get(keys[0], [])})
every = max(1, len(steps) // 10)
for step in steps[::every] + ([steps[-1]] if (len(steps) - 1) % every else []):
    cells = []
    for key in keys:
        for mode in arms:
            value = dict(arms[mode].get(key, [])).get(step)
            cells.append("-" if value is None else f"{value:.4g}")
    print(f"| {step} | " + " | ".join(cells) + " |")
PY
echo "logs and TensorBoard events: $work"
