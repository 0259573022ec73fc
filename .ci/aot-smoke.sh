#!/usr/bin/env bash
# Publishes the vit CLI as a NativeAOT binary and runs it on things it makes itself: the compiled ViT-B/16's numbers,
# a few training steps on the shipped Fashion-MNIST split, evaluation, classification of PNG, JPEG, TIFF (EXIF tags)
# and PGM images, pictures (explain, inspect), conversion to HuggingFace's format, a short benchmark and an ONNX export.
# Any failure exits non-zero.
#
# Needs: the .NET SDK, NuGet (the NativeAOT compiler package), and a C toolchain for the final link, which
# .ci/native-toolchain.sh installs where it is missing. The pictures' labels use DejaVu Sans (Debian's
# fonts-dejavu-core), installed with apt-get when it is missing and the script runs as root.
# Usage: .ci/aot-smoke.sh [extra dotnet publish arguments, e.g. -p:IlcInstructionSet=native]
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/native-toolchain.sh aot-smoke

# The font of the pictures' labels (without it they are drawn, but their text is missing).
if [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && apt-get install -y -qq fonts-dejavu-core >/dev/null
fi

out=artifacts/vit
rm -rf "$out"
dotnet publish src/ViTCompiler.Cli -c Release -r linux-x64 -o "$out" "$@"
vit="$out/vit"
[ -x "$vit" ] || { echo "aot-smoke: $vit was not produced" >&2; exit 1; }
size=$(stat -c %s "$vit")
echo "aot-smoke: $vit is $size bytes ($((size / 1024)) KiB)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fixtures=tests/ViTCompiler.Cli.Tests/Fixtures

fail() { echo "aot-smoke: FAILED: $*" >&2; exit 1; }
expect() { # expect PATTERN TEXT: the text must contain the pattern (grep -E)
  grep -Eq -- "$1" <<<"$2" || fail "expected /$1/ in: $2"
}

# A compiled preset: its numbers, and the engine NativeAOT chose.
"$vit" info --preset vit-b16
info=$("$vit" info --preset vit-b16 --json)
expect '"parameters":86567656' "$info"
expect '"flops_per_image":35127656448' "$info"
expect '"engine":"generated"' "$info"
expect '"runtime":"NativeAOT' "$info"

# Train the Fashion-MNIST preset for a few steps on the split that ships with the repository, then evaluate it.
"$vit" train --data data/fashion-mnist --steps 6 --batch 32 --out "$work/fashion.safetensors" --json | tee "$work/train.json"
expect '"completed":true' "$(cat "$work/train.json")"
evaluation=$("$vit" eval --weights "$work/fashion.safetensors" --data data/fashion-mnist --json)
echo "$evaluation"
expect '"images":10000' "$evaluation"

# Classify images in four formats; a grey PGM is written here (header + 28 × 28 bytes).
{ printf 'P5\n28 28\n255\n'; head -c 784 /dev/urandom; } > "$work/noise.pgm"
images=("$fixtures/bar.png" "$fixtures/disc.jpg" "$fixtures/exif-tags.tif" "$work/noise.pgm")
"$vit" classify "${images[@]}" --weights "$work/fashion.safetensors" --top 3
classified=$("$vit" classify "${images[@]}" --weights "$work/fashion.safetensors" --json)
[ "$(grep -c '"top":\[{"index":' <<<"$classified")" -eq 4 ] || fail "expected 4 classified images, got: $classified"
expect '"label":"(T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot)"' "$classified"

# Pictures, drawn through SkiaSharp's native library published beside vit: where the model looks (explain) and what it
# learned (inspect, the paper's Fig. 7). Each must be a PNG of the figure's size, not just a file.
png_size() { # png_size FILE: "WIDTHxHEIGHT" from the PNG header, or nothing when it is not a PNG
  [ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = 89504e470d0a1a0a ] || return 0
  od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $3 * 256 + $4, $7 * 256 + $8 }'
}
explained=$("$vit" explain "$fixtures/bar.png" "$work/noise.pgm" --weights "$work/fashion.safetensors" --out "$work/pictures" --json)
echo "$explained"
[ "$(grep -c '"rollout":\[\[' <<<"$explained")" -eq 2 ] || fail "expected 2 rollout grids, got: $explained"
inspected=$("$vit" inspect --weights "$work/fashion.safetensors" --out "$work/pictures" --images data/fashion-mnist --max-images 64 --json)
echo "$inspected"
expect '"attention_distance":\{"images":64' "$inspected"
for picture in bar.rollout.png:560x480 noise.rollout.png:560x480 embedding-filters.png:720x430 position-similarity.png:640x560 attention-distance.png:640x440; do
  file="$work/pictures/${picture%%:*}"
  [ "$(png_size "$file")" = "${picture##*:}" ] || fail "$file: expected a ${picture##*:} PNG, got '$(png_size "$file")'"
  [ "$(stat -c %s "$file")" -gt 8000 ] || fail "$file is too small to hold a plot"
done
"$vit" inspect --weights "$work/fashion.safetensors" --out "$work/pictures"

# The same answers after converting to HuggingFace's format.
"$vit" convert "$work/fashion.safetensors" "$work/fashion-hf" --to hf
[ "$("$vit" classify "${images[@]}" --weights "$work/fashion-hf" --json)" = "$classified" ] || fail "HF copy classifies differently"

# A corrupt image among good ones: reported, the others still classified, exit code 2.
head -c 300 /dev/urandom > "$work/broken.png"
set +e
partial=$("$vit" classify "$fixtures/bar.png" "$work/broken.png" --weights "$work/fashion.safetensors" --json 2>"$work/stderr")
code=$?
set -e
[ "$code" -eq 2 ] || fail "a corrupt image should give exit code 2, got $code"
expect 'bar.png' "$partial"
expect 'broken.png' "$(cat "$work/stderr")"

# Bad usage: exit code 1 and a message, no stack trace.
set +e
"$vit" info --preset no-such-model 2>"$work/stderr"
code=$?
set -e
[ "$code" -eq 1 ] || fail "an unknown preset should give exit code 1, got $code"
expect 'Presets: vit-ti16' "$(cat "$work/stderr")"

bench=$("$vit" bench --preset fashion-mnist --batch 8 --runs 3 --json)
echo "$bench"
expect '"median_ms":' "$bench"

"$vit" export-onnx "$work/fashion.onnx" --weights "$work/fashion.safetensors"
[ -s "$work/fashion.onnx" ] || fail "no ONNX file"

# Data-parallel training from the NativeAOT binary (the MPI binding loaded through NativeLibrary, no JIT): 2 ranks
# of 64 images must train like 1 process with batches of 128, step by step (docs/DISTRIBUTED.md, "Tolerance").
if command -v mpirun >/dev/null; then
  common=(train --data data/fashion-mnist --steps 6 --batch 128 --threads 1 --log-every 1 --json)
  mpirun --allow-run-as-root --oversubscribe --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo -np 2 \
    "$vit" "${common[@]}" --out "$work/two.safetensors" --metrics "$work/two.jsonl" > "$work/two.json"
  expect '"ranks":2' "$(cat "$work/two.json")"
  "$vit" "${common[@]}" --out "$work/one.safetensors" --metrics "$work/one.jsonl" > "$work/one.json"
  expect '"ranks":1' "$(cat "$work/one.json")"
  losses() { grep '"kind":"step"' "$1" | sed -E 's/.*"loss":([^,]*),.*/\1/'; }
  paste <(losses "$work/one.jsonl") <(losses "$work/two.jsonl") | awk '
    { n++; d = ($1 - $2) / $1; if (d < 0) d = -d; if (d > worst) worst = d }
    END { printf "aot-smoke: 2 ranks vs 1: %d steps, largest relative loss difference %.2e\n", n, worst; exit !(n == 6 && worst <= 1e-4) }' \
    || fail "2 MPI ranks did not train like 1 process"
else
  echo "aot-smoke: mpirun not found; the MPI check is skipped (install openmpi-bin libopenmpi-dev)"
fi

echo "aot-smoke: all checks passed ($vit, $size bytes)"
