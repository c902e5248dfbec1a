#!/usr/bin/env bash
# Container entrypoint wrapper for TAO's PyTorch container:
#
#   docker run --rm --gpus all -v /path/to/tao-sparse4d-fix:/opt/tao-sparse4d-fix:ro \
#     --entrypoint /opt/tao-sparse4d-fix/entrypoint.sh \
#     nvcr.io/nvidia/tao/tao-toolkit:6.25.11-pyt sparse4d train -e /specs/train.yaml
#
# Installs the plugin from this mounted copy if it is absent, switches the fix
# on unless the caller set TAO_SPARSE4D_FIX, runs the doctor check (against the
# spec given with -e, if any) and then hands over to the real command.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${TAO_SPARSE4D_FIX_PYTHON:-python}"

if ! "$python" -c "import tao_sparse4d_fix" 2>/dev/null; then
  echo "tao-sparse4d-fix: installing from $here" >&2
  build_dir="$(mktemp -d)"
  cp -r "$here/." "$build_dir"  # the mount may be read-only; pip builds in place
  "$python" -m pip install --quiet --no-build-isolation "$build_dir" \
    || "$python" -m pip install --quiet "$build_dir"
  rm -rf "$build_dir"
fi

export TAO_SPARSE4D_FIX="${TAO_SPARSE4D_FIX-1}"

spec=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    -e | --experiment_spec_file | --experiment_spec) spec=(--spec "${args[i + 1]:-}") ;;
  esac
done
"$python" -m tao_sparse4d_fix doctor "${spec[@]}"

exec "$@"
