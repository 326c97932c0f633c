#!/usr/bin/env bash
# Build (and optionally publish) the paper's two datasets from a folder of videos, e.g. LLaVA-Video-178K.
#
#   hub/scripts/build_paper_datasets.sh VIDEOS_DIR OUT_DIR [ORG]
#
# VIUBench is built first; VideoSSR-30K then excludes every video VIUBench used, so no benchmark video
# is trained on. With ORG set, both folders are uploaded to ORG/VIUBench and ORG/VideoSSR-30K.
# Re-running after a crash resumes where the builds stopped.
set -euo pipefail
VIDEOS=${1:?usage: $0 VIDEOS_DIR OUT_DIR [ORG]}
OUT=${2:?usage: $0 VIDEOS_DIR OUT_DIR [ORG]}
ORG=${3:-}
NUM_PROC=${NUM_PROC:-$(nproc)}
SEED=${SEED:-0}

videossr build viubench --videos "$VIDEOS" --out "$OUT/VIUBench" --per-subtype 300 --seed "$SEED" --num-proc "$NUM_PROC"
videossr build videossr-30k --videos "$VIDEOS" --out "$OUT/VideoSSR-30K" --size 30000 --seed "$SEED" \
    --num-proc "$NUM_PROC" --exclude "$OUT/VIUBench"
videossr dataset-info "$OUT/VIUBench" "$OUT/VideoSSR-30K"
if [ -n "$ORG" ]; then
    videossr publish "$OUT/VIUBench" --repo-id "$ORG/VIUBench"
    videossr publish "$OUT/VideoSSR-30K" --repo-id "$ORG/VideoSSR-30K"
fi
