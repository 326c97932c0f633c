#!/usr/bin/env bash
# GPU acceptance check of videossr (docs/sharding.md): a few GRPO steps of a random-initialised Qwen3-VL with
# the 8B architecture at reduced depth, shared prefix on and off (step time, peak memory), and VIUBench
# throughput batched against one item at a time, and the README's sharded launch paths (zero3.yaml, fsdp.yaml)
# on the GPU(s); prints one table. About 10 minutes at most on one H100/H200.
#
#   bash scripts/gpu_acceptance.sh [--out FILE] [--text_layers 4] [--vision_blocks 4] ...   (see --help)
#
# The GPU machine's own Python has torch, transformers, accelerate, numpy, pyarrow, pandas and opencv, but
# not trl, datasets or evaluate: put their x86_64 wheels in .whl/ (`pip download --no-deps trl==1.16.0
# datasets dill xxhash multiprocess -d .whl`); they are installed without dependencies first. For the ZeRO-3
# launch also carry deepspeed (a pure-Python wheel built from its sdist; hjson, py-cpuinfo, msgpack, ninja,
# einops, pydantic): without it that row says "skipped". Without a GPU it runs the same path on CPU with the
# tiny offline model (a check of the script, not a measurement; the sharded launches are skipped there).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ]; then PY=.venv/bin/python; fi

if compgen -G ".whl/*.whl" >/dev/null; then
  echo "gpu_acceptance: installing carried wheels from .whl/"
  "$PY" -m pip install -q --no-deps --no-index .whl/*.whl
fi
missing=""
for module in torch transformers accelerate trl datasets; do
  "$PY" -c "import $module" 2>/dev/null || missing="$missing $module"
done
if [ -n "$missing" ]; then
  echo "gpu_acceptance: missing Python modules:$missing (carry their wheels in .whl/)" >&2
  exit 2
fi

export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_acceptance: $("$PY" -c 'import torch; print(torch.cuda.get_device_name())')"
else
  echo "gpu_acceptance: no GPU, CPU fallback with the tiny model (checks the script, measures nothing)"
fi
exec timeout "${ACCEPTANCE_TIMEOUT:-600}" "$PY" scripts/gpu_acceptance.py "$@"
