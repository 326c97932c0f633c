#!/usr/bin/env bash
# One task of a sharded VideoSSR-30K build, for a cluster array job (e.g. SLURM_ARRAY_TASK_ID=0..K-1):
#
#   K=16 hub/scripts/build_sharded.sh VIDEOS_DIR PARTS_DIR INDEX
#
# Every task writes PARTS_DIR/part-INDEX; when all K are done, merge them once:
#
#   videossr build merge PARTS_DIR/part-* --out REPO_DIR
#
# Every task must see the same VIDEOS_DIR and use the same K, seed and options.
set -euo pipefail
VIDEOS=${1:?usage: $0 VIDEOS_DIR PARTS_DIR INDEX}
PARTS=${2:?usage: $0 VIDEOS_DIR PARTS_DIR INDEX}
INDEX=${3:?usage: $0 VIDEOS_DIR PARTS_DIR INDEX}
K=${K:?set K, the number of shards}
videossr build videossr-30k --videos "$VIDEOS" --out "$PARTS/part-$(printf %05d "$INDEX")" \
    --num-shards "$K" --shard-index "$INDEX" --seed "${SEED:-0}" --num-proc "${NUM_PROC:-$(nproc)}" \
    ${EXCLUDE:+--exclude "$EXCLUDE"} --quiet
