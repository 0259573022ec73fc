#!/usr/bin/env bash
# The transfer experiment of docs/FINETUNE.md: pre-train on six Fashion-MNIST classes, then learn the other four from
# 100 images per class by (a) training from scratch, (b) fine-tuning at 28 px, (c) fine-tuning at 56 px, and (d) a 5- and
# 10-shot linear probe of the pre-trained features. Prints one JSON line per run (accuracy, seconds) into $OUT/results.jsonl.
#
#   samples/FineTune/transfer.sh [IDX_DIR] [OUT_DIR]
#
# IDX_DIR: the full Fashion-MNIST (train and t10k), default /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist).
# VIT: how to run vit (default: the Release build of src/ViTCompiler.Cli; build it first). THREADS: --threads (default all).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
idx=${1:-/usr/share/datasets/fashion-mnist}
out=${2:-$repo/artifacts/finetune}
vit=${VIT:-dotnet $repo/src/ViTCompiler.Cli/bin/Release/net10.0/vit.dll}
threads=${THREADS:+--threads $THREADS}
mkdir -p "$out"
results=$out/results.jsonl
: > "$results"

[ -d "$out/data/target-val" ] || python3 "$here/make_folders.py" "$idx" "$out/data"
data=$out/data

run() { # NAME ARGS...: runs vit, keeps its JSON line, tagged with NAME
  local name=$1; shift
  echo "== $name: vit $*" >&2
  local line
  line=$($vit "$@" $threads --json | tail -n 1)
  echo "{\"run\":\"$name\",${line#\{}" | tee -a "$results"
}

# Pre-training: the six source classes, the Fashion recipe (AdamW), 3 epochs; 10% held out for its own test accuracy.
# REUSE_PRETRAINED=1 keeps an existing pre6.safetensors (for re-running only the target runs).
if [ -z "${REUSE_PRETRAINED:-}" ] || [ ! -f "$out/pre6.safetensors" ]; then
  run pretrain train --data "$data/pretrain" --preset fashion-mnist --epochs 3 --seed 1 --out "$out/pre6.safetensors"
fi

# The same budget for every trained target model: 15 epochs of batches of 40 (10 updates per epoch, 150 in all). Each
# epoch is evaluated on a 200-image validation folder (so evaluation does not dominate the time); the final model on
# the whole 4,000-image test folder by `vit eval`.
common=(--data "$data/target" --test "$data/target-val" --epochs 15 --batch 40 --seed 2)
for run_name in scratch finetune-28 finetune-56; do
  case $run_name in
    scratch) extra=(--preset fashion-mnist) ;;
    finetune-28) extra=(--from "$out/pre6.safetensors") ;;
    finetune-56) extra=(--from "$out/pre6.safetensors" --image-size 56) ;;
  esac
  run "$run_name" train "${common[@]}" "${extra[@]}" --out "$out/$run_name.safetensors"
  run "$run_name-test" eval --weights "$out/$run_name.safetensors" --data "$data/target-test"
done

# The paper picks the fine-tuning learning rate from {0.001, 0.003, 0.01, 0.03} on held-out data; two more at 28 px,
# and the best of those (by the validation folder) at 56 px.
for lr in 0.003 0.03; do
  run "finetune-28-lr$lr" train "${common[@]}" --from "$out/pre6.safetensors" --lr "$lr" --out "$out/finetune-28-lr$lr.safetensors"
  run "finetune-28-lr$lr-test" eval --weights "$out/finetune-28-lr$lr.safetensors" --data "$data/target-test"
done
run finetune-56-lr0.03 train "${common[@]}" --from "$out/pre6.safetensors" --image-size 56 --lr 0.03 --out "$out/finetune-56-lr0.03.safetensors"
run finetune-56-lr0.03-test eval --weights "$out/finetune-56-lr0.03.safetensors" --data "$data/target-test"

for k in 5 10; do
  run "probe-$k" probe --weights "$out/pre6.safetensors" --data "$data/target" --test "$data/target-test" --shots "$k" --seed 3
done
# The probe of an untrained encoder: what the features give without pre-training.
$vit init "$out/untrained.safetensors" --preset fashion-mnist --seed 1 >/dev/null
run probe-10-untrained probe --weights "$out/untrained.safetensors" --data "$data/target" --test "$data/target-test" --shots 10 --seed 3
echo "results: $results" >&2
