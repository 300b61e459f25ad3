#!/usr/bin/env bash
# The CUDA paths, measured for real in one call on any CUDA machine (under 8 minutes on one GPU):
#   1. every registered model on Set5, --runs 5 --vs-baseline: runtime, the ratio to its year's baseline timed
#      beside it, the predicted score, the official memory figure, the GPU's state through NVML;
#   2. python -m benchmark.speed (forward times, evaluation-loop overhead);
#   3. python -m benchmark.speed --matrix (backends × precisions: fp16, bf16, CUDA graphs, TensorRT where present);
#   4. the fast SRneXt through every CUDA backend in FP32 at 256×256, beside RFDN in the same run (is the seed's
#      network faster than the baseline here?): the exported ways in one process, the compiled ways (inductor,
#      max-autotune with CUDA graphs: the slowest to prepare) in another, so that one running past its limit
#      leaves the other's table;
#   5. a sweep over two registered teams, one GPU slot;
#   6. the CUDA out-of-memory retry in tiles (the allocator capped so that a whole image cannot fit).
# Each step's log and files go to a work folder; DEST (the first argument, else $OUT, else results/gpu-check) gets
# report.md, summary.txt (what ran and how long it took), machine.txt and gpu-check.tar.gz holding every step's files:
# four files, as a device call returns at most eight.
# Environment: ESR_SET5 (a Set5 folder), ESR_ZOO (the official checkpoints), PYTHON, ESR_DEVICE (cuda; cpu rehearses
# the script), ESR_RUNS (5), ESR_STEPS (run only the steps whose names begin with one of these words, e.g.
# "srnext" for the fast SRneXt's two steps alone), ESR_TIME_SCALE (1: multiplies every step's time limit). Each step
# has a time limit (its second argument, seconds; 124 in the summary: it ran past it), together 455 s with the five
# registered models (one call under 8 minutes). The limits are estimates until the check has run on a GPU; should
# the compiled ways run past theirs, ESR_STEPS=srnext ESR_TIME_SCALE=5 gives the fast SRneXt's steps a call of their
# own (425 s). With .whl/ present (scripts/gpu-prepare.sh), its wheels are installed first. The fast SRneXt's CPU
# kernel (g++, about 12–15 s) is built in the background while the models run, so that no timed step pays for it.
set -uo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-${OUT:-results/gpu-check}}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
PY=${PYTHON:-python3}
DEVICE=${ESR_DEVICE:-cuda}
RUNS=${ESR_RUNS:-5}
STEPS=${ESR_STEPS:-}
SCALE=${ESR_TIME_SCALE:-1}
SET5=${ESR_SET5:-$( [ -d .gpu-carry/data/Set5 ] && echo .gpu-carry/data/Set5 || echo ../shared/data/Set5 )}
ZOO=${ESR_ZOO:-$( [ -d .gpu-carry/model_zoo ] && echo .gpu-carry/model_zoo || echo ../shared/reference/model_zoo )}
mkdir -p "$DEST"
: > "$OUT/summary.txt"
export ESR_OFFLINE=1 PYTHONUNBUFFERED=1
if [ -d .whl ] && ls .whl/*.whl > /dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/esr-site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/esr-site${PYTHONPATH:+:$PYTHONPATH}
fi

step() {  # step NAME SECONDS COMMAND...: run it, log to OUT/NAME.log, one line in the summary, its last lines shown
    local name=$1 limit=$2 begin rc word
    shift 2
    if [ -n "$STEPS" ]; then
        for word in $STEPS; do [[ $name == "$word"* ]] && break; word=; done
        [ -n "$word" ] || return 0
    fi
    begin=$(date +%s)
    # its whole process group is sent TERM at the limit, KILL 10 s later
    timeout -k 10 "$(( limit * SCALE ))" "$@" > "$OUT/$name.log" 2>&1
    rc=$?  # 124: the step ran past its limit (what it wrote is kept)
    echo "$name: exit $rc in $(( $(date +%s) - begin )) s" | tee -a "$OUT/summary.txt"
    tail -n 15 "$OUT/$name.log"
}

{ nvidia-smi || true; "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"; } \
    > "$OUT/machine.txt" 2>&1
"$PY" -c "import models; print('\n'.join(f'{s.year} {s.team_id}' for s in models.list_models()))" > "$OUT/teams.txt"
"$PY" -c "import models.kernels.srnext as k; print('built' if k.cpu_kernel(35, 15) else 'not built (see above)')" \
    > "$OUT/kernel.log" 2>&1 &
KERNEL=$!
while read -r year team; do
    step "model_${year}_${team}" 26 "$PY" test_demo.py --year "$year" --model_id "$team" --dataset "$SET5" \
        --model_zoo "$ZOO" --runs "$RUNS" --vs-baseline --device "$DEVICE" --results "$OUT/models.json" --no-save
done < "$OUT/teams.txt"
wait "$KERNEL"; echo "kernel: exit $? ($(tail -n 1 "$OUT/kernel.log"))" | tee -a "$OUT/summary.txt"
step speed 45 "$PY" -m benchmark.speed --device "$DEVICE" --model_zoo "$ZOO" --data "$SET5" --out "$OUT/speed.md"
step matrix 100 "$PY" -m benchmark.speed --matrix --device "$DEVICE" --model_zoo "$ZOO" --models 2026:0 2023:0 \
    --sizes 339x510 --backend eager channels_last compile onnxruntime tensorrt --out "$OUT/speed_matrix.md"
# max-autotune compiles for minutes per precision: CUDA graphs on SPAN in FP32 only
step graphs 45 "$PY" -m benchmark.speed --matrix --device "$DEVICE" --model_zoo "$ZOO" --models 2026:0 --sizes 339x510 \
    --backend eager cudagraphs --precision fp32 --out "$OUT/speed_graphs.md"
# exports and compilations dominate: FP32 only, one size; eager in both, for the ratio within one run
step srnext 40 "$PY" -m benchmark.speed --matrix --device "$DEVICE" --model_zoo "$ZOO" --models 2023:5:fast 2023:0 \
    --sizes 256x256 --precision fp32 --rounds 5 --out "$OUT/speed_srnext.md" \
    --backend eager channels_last onnxruntime tensorrt
step srnext_compiled 45 "$PY" -m benchmark.speed --matrix --device "$DEVICE" --model_zoo "$ZOO" \
    --models 2023:5:fast 2023:0 --sizes 256x256 --precision fp32 --rounds 5 --out "$OUT/speed_srnext_compiled.md" \
    --backend eager compile cudagraphs
step sweep 30 "$PY" -m benchmark.sweep --year 2023 --model_id 0 5 --dataset "$SET5" --model_zoo "$ZOO" \
    --device "$DEVICE" --runs "$RUNS" --results "$OUT/sweep.json" --force
if [ "$DEVICE" != cpu ]; then  # the faithful SRneXt in 50 MiB: its larger images run in tiles, and the record says so
    step oom_tiles 20 "$PY" test_demo.py --year 2023 --model_id 5 --dataset "$SET5" --model_zoo "$ZOO" --runs 1 \
        --device "$DEVICE" --gpu-memory 0.05 --results "$OUT/oom.json" --no-save
fi
"$PY" - "$OUT" > "$OUT/report.md" <<'REPORT'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = ["| model | year | Set5 ms (mean of runs) | ratio to baseline [95% CI] | predicted score [95% CI] | memory MiB | device |",
        "|---|---|---|---|---|---|---|"]
models = out / "models.json"  # absent when every model step ran past its limit
for name, e in (json.loads(models.read_text()) if models.is_file() else {}).items():
    ci = e.get("Set5_baseline_ratio_ci95") or [None, None]
    score = e.get("predicted_score_ci95") or [None, None]
    fmt = lambda v, spec=".3f": "n/a" if v is None else format(v, spec)
    rows.append(f"| {name} | {e['year']} | {fmt(e.get('Set5_ave_runtime'), '.2f')} | {fmt(e.get('Set5_baseline_ratio'))} "
                f"[{fmt(ci[0])}–{fmt(ci[1])}] | {fmt(e.get('predicted_score'))} [{fmt(score[0])}–{fmt(score[1])}] | "
                f"{fmt(e.get('Set5_memory'), '.1f')} | {e['environment']['device_name']} |")
oom = out / "oom.json"
if oom.is_file():
    entry = next(iter(json.loads(oom.read_text()).values()))
    rows.append(f"\nOut-of-memory retry in tiles (--gpu-memory 0.05): Set5 images run tiled: {entry.get('Set5_tiled')}")
print("\n".join(rows))
REPORT
cp "$OUT/report.md" "$OUT/summary.txt" "$OUT/machine.txt" "$DEST/"
tar -czf "$DEST/gpu-check.tar.gz" -C "$OUT" .
cat "$OUT/report.md" "$OUT/summary.txt"
rm -rf "$OUT"
