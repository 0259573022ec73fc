#!/usr/bin/env bash
# Publishes the vit CLI as a NativeAOT binary and runs it on things it makes itself: the compiled ViT-B/16's numbers,
# a few training steps on the shipped Fashion-MNIST split, evaluation, classification of PNG, JPEG, TIFF (EXIF tags)
# and PGM images, pictures (explain, inspect), conversion to HuggingFace's format, a short benchmark, an ONNX export
# and one request to `vit serve` followed by SIGTERM.
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

exit_code() { # exit_code COMMAND…: runs it with stderr to $work/stderr, prints its exit status
  local status=0
  "$@" >/dev/null 2>"$work/stderr" || status=$?
  echo "$status"
}

# One publish, two binaries (docs/PERFORMANCE.md, "Instruction-set variants"): vit (x86-64-v3) runs vit-x86-64-v4 on
# CPUs with AVX-512. Which one the CPU calls for is read here from the kernel's flags, independently of vit's CPUID code.
if [ $# -eq 0 ]; then
  [ -x "$out/vit-x86-64-v4" ] || fail "the default publish did not produce $out/vit-x86-64-v4"
  expected=x86-64-v3
  flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
  if grep -qw avx512f <<<"$flags" && grep -qw avx512cd <<<"$flags" && grep -qw avx512bw <<<"$flags" \
     && grep -qw avx512dq <<<"$flags" && grep -qw avx512vl <<<"$flags"; then expected=x86-64-v4; fi
  variant=$("$vit" info --preset fashion-mnist --json)
  expect "\"variant\":\"$expected\"" "$variant"
  [ "$expected" = x86-64-v4 ] && expect '"isa":"Vector512"' "$variant"
  "$vit" info --preset fashion-mnist | grep variant
  # Both variants against the reference engine; the forced one must say it was forced.
  "$vit" selftest || fail "vit selftest failed in the $expected variant"
  forced=$(VIT_ISA=avx2 "$vit" info --preset fashion-mnist --json)
  expect '"variant":"x86-64-v3"' "$forced"
  expect 'VIT_ISA=avx2 forces it' "$forced"
  expect '"isa":"Vector256"' "$forced"
  VIT_ISA=avx2 "$vit" selftest || fail "vit selftest failed with VIT_ISA=avx2"
  code=$(exit_code env VIT_ISA=sse2 "$vit" info --preset fashion-mnist)
  [ "$code" -eq 1 ] || fail "an unknown VIT_ISA should give exit code 1, got $code"
  expect 'VIT_ISA=sse2 is not a variant' "$(cat "$work/stderr")"
  if [ "$expected" = x86-64-v3 ]; then
    code=$(exit_code env VIT_ISA=avx512 "$vit" info --preset fashion-mnist)
    [ "$code" -eq 1 ] || fail "VIT_ISA=avx512 on a CPU without AVX-512 should give exit code 1, got $code"
    expect 'lacks AVX-512' "$(cat "$work/stderr")"
  fi
fi

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

# One copy of the weights when classifying (CompiledVit.InferenceOnly): ViT-B/16's peak resident size must stay within
# 1.2 × its weights plus one image's activations (the issue measured 687 MiB, both copies, before).
if [ ! -x /usr/bin/time ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && apt-get install -y -qq time >/dev/null
fi
if [ -x /usr/bin/time ]; then
  "$vit" init "$work/b16.safetensors" --preset vit-b16 --to timm >/dev/null
  b16=$("$vit" info --preset vit-b16 --json)
  weights=$(grep -o '"parameter_bytes":[0-9]*' <<<"$b16" | cut -d: -f2)
  activations=$(grep -o '"activation_bytes_per_image":[0-9]*' <<<"$b16" | cut -d: -f2)
  /usr/bin/time -v "$vit" classify "$fixtures/disc.jpg" --weights "$work/b16.safetensors" --top 1 2>"$work/time.txt" >/dev/null
  peak_kib=$(grep 'Maximum resident set size' "$work/time.txt" | grep -o '[0-9]*$')
  limit_kib=$(( (weights * 12 / 10 + activations) / 1024 ))
  echo "aot-smoke: vit classify with ViT-B/16 peaked at $((peak_kib / 1024)) MiB (limit $((limit_kib / 1024)) MiB = 1.2 × $((weights / 1048576)) MiB weights + activations)"
  [ "$peak_kib" -le "$limit_kib" ] || fail "vit classify with ViT-B/16 peaked at $peak_kib KiB, over $limit_kib KiB"
  rm -f "$work/b16.safetensors"
else
  echo "aot-smoke: /usr/bin/time missing (Debian: apt-get install time); the memory check is skipped"
fi

bench=$("$vit" bench --preset fashion-mnist --batch 8 --runs 3 --json)
echo "$bench"
expect '"median_ms":' "$bench"

"$vit" export-onnx "$work/fashion.onnx" --weights "$work/fashion.safetensors"
[ -s "$work/fashion.onnx" ] || fail "no ONNX file"

# vit serve (Kestrel in the NativeAOT binary): a free loopback port, one classification over plain bash /dev/tcp (no
# curl needed), then SIGTERM: a graceful stop must exit 0.
"$vit" serve --weights "$work/fashion.safetensors" --port 0 >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 300); do grep -q 'http://127\.0\.0\.1:' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/serve.out" | head -1 | sed 's/.*://')
[ -n "$port" ] || { kill "$server" 2>/dev/null; fail "vit serve printed no address: $(cat "$work/serve.out" "$work/serve.err")"; }
exec 3<>"/dev/tcp/127.0.0.1/$port"
{ printf 'POST /v1/classify?top=3 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' \
    "$(stat -c %s "$fixtures/bar.png")"; cat "$fixtures/bar.png"; } >&3
served=$(cat <&3)
exec 3<&-
grep -a '"top"' <<<"$served"
expect 'HTTP/1.1 200 OK' "$served"
expect '"top":\[\{"index":[0-9],"label":"(T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot)"' "$served"
kill -TERM "$server"
set +e
wait "$server"
code=$?
set -e
[ "$code" -eq 0 ] || fail "vit serve should exit 0 after SIGTERM, got $code: $(cat "$work/serve.err")"
expect 'stopped; 1 image\(s\) in 1 forward pass' "$(cat "$work/serve.out")"

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
