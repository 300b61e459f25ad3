#!/usr/bin/env bash
# Here, before a call on a lent GPU machine (which reaches no network and holds no ../shared): build the wheels of
# the packages its image lacks into .whl/, and stage the data and official checkpoints the check reads into
# .gpu-carry/ (both ignored by git). Then run, on that machine, with .whl and .gpu-carry carried:
#     scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
rm -rf .whl && mkdir -p .whl
# Pure-Python packages the CUDA image lacks (fvcore and iopath ship as sources only, so they are built here).
"$PY" -m pip wheel --quiet --no-deps -w .whl "fvcore==0.1.5.post20221221" "iopath>=0.1.7,<0.1.11" "yacs>=0.1.8" \
    "termcolor>=1.1" "ptflops>=0.7.4"
rm -rf .gpu-carry && mkdir -p .gpu-carry/data .gpu-carry/model_zoo
cp -r ../shared/data/Set5 .gpu-carry/data/
cp ../shared/reference/model_zoo/*.pth .gpu-carry/model_zoo/
du -sh .whl .gpu-carry
