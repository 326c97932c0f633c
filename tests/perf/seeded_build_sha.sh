#!/usr/bin/env bash
# sha256 of a small seeded build of both datasets, to show a refactor leaves the dataset bytes alone.
#
#   bash tests/perf/seeded_build_sha.sh TREE OUTDIR [SHAFILE]
#
#   TREE     a checkout of the project (e.g. a `git worktree add /tmp/base REV`); its `videossr` is the one
#            imported (PYTHONPATH=TREE), so the tree needs no environment of its own
#   OUTDIR   where the two builds go (OUTDIR/viubench, OUTDIR/30k; wiped first)
#   SHAFILE  where the `sha256  relative/path` lines go (default: stdout), every *.parquet under OUTDIR,
#            sorted by relative path
#   PYTHON   the interpreter (default: .venv/bin/python of this checkout, else python3)
#   SEED     the build seed (default 0, passed explicitly)
#
# Example, before and after a change:
#   git worktree add /tmp/base fe0b254
#   bash tests/perf/seeded_build_sha.sh /tmp/base /tmp/b_before /tmp/sha_before.txt
#   bash tests/perf/seeded_build_sha.sh "$PWD" /tmp/b_after /tmp/sha_after.txt
#   diff /tmp/sha_before.txt /tmp/sha_after.txt && echo "same bytes"
#
# Only the parquet data files are hashed: the README / dataset card and build report beside them are
# prose, not data. Both builds run with --num-proc 1 under `nice -n 19`.
set -euo pipefail
if [ $# -lt 2 ]; then sed -n '2,20p' "$0"; exit 2; fi
tree="$(cd "$1" && pwd)"
out="$2"
shafile="${3:-/dev/stdout}"
seed="${SEED:-0}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$here/.venv/bin/python" ]; then PYTHON="$here/.venv/bin/python"; else PYTHON=python3; fi
fi
export PYTHONPATH="$tree" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
where="$(cd "$tree" && nice -n 19 "$PYTHON" -c 'import videossr; print(videossr.__file__)')"
case "$where" in
  "$tree"/*) ;;
  *) echo "seeded_build_sha: videossr imports from $where, not from $tree" >&2; exit 1 ;;
esac
rm -rf "$out"
mkdir -p "$out"
cd "$tree"
nice -n 19 "$PYTHON" -m videossr.cli build viubench --videos default --out "$out/viubench" \
  --per-subtype 2 --seed "$seed" --num-proc 1 --overwrite --quiet >&2
nice -n 19 "$PYTHON" -m videossr.cli build videossr-30k --videos default --out "$out/30k" \
  --size 20 --seed "$seed" --num-proc 1 --overwrite --quiet >&2
cd "$out"
files="$(find . -name '*.parquet' -type f | sed 's|^\./||' | LC_ALL=C sort)"
if [ -z "$files" ]; then echo "seeded_build_sha: no parquet files under $out" >&2; exit 1; fi
echo "$files" | tr '\n' '\0' | xargs -0 sha256sum > "$shafile"
