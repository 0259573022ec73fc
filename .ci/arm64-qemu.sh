#!/usr/bin/env bash
# The NEON (AdvSimd, Vector128) path, run: publishes vit self-contained for linux-arm64 (JIT: the arm64 NativeAOT
# compiler needs an arm64 linker and sysroot as well) and runs it under Debian's qemu-user, an arm64 CPU emulated
# instruction by instruction: `vit info` must report neon, `vit selftest` compares the compiled presets' logits (and the
# Fashion-MNIST model's gradients) with the double-precision reference engine.
#
# Needs: the .NET SDK with NuGet (the linux-arm64 runtime pack is restored from the feed), and qemu-user,
# libc6-arm64-cross and libstdc++6-arm64-cross (installed with apt-get when missing and the script runs as root).
# Usage: .ci/arm64-qemu.sh [selftest presets…]   (default: fashion-mnist fashion-mnist-hybrid fashion-mnist-deep-hybrid vit-ti16)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v qemu-aarch64 >/dev/null || packages+=(qemu-user)
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || packages+=(libc6-arm64-cross)
[ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || packages+=(libstdc++6-arm64-cross)
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "arm64-qemu: missing ${packages[*]}; install them (apt-get install -y ${packages[*]})" >&2
    exit 1
  fi
fi

start=$(date +%s)
out=artifacts/vit-arm64
rm -rf "$out"
dotnet publish src/ViTCompiler.Cli -c Release -r linux-arm64 --self-contained -p:PublishAot=false -o "$out"
published=$(date +%s)

export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
# Under emulation the JIT's own start-up is slow; tiering would only add recompilations of code that runs a few times.
export DOTNET_TieredPGO=0
vit() { qemu-aarch64 "$out/vit" "$@"; }

fail() { echo "arm64-qemu: FAILED: $*" >&2; exit 1; }
info=$(vit info --preset fashion-mnist --json)
echo "$info"
grep -q '"neon"' <<<"$info" || fail "vit info does not report neon: $info"
grep -q '"isa":"Vector128"' <<<"$info" || fail "the generated kernels do not take the Vector128 (NEON) path: $info"
vit info --preset fashion-mnist | tail -3

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(fashion-mnist fashion-mnist-hybrid fashion-mnist-deep-hybrid vit-ti16)
args=()
for p in "${presets[@]}"; do args+=(--preset "$p"); done
vit selftest "${args[@]}" || fail "vit selftest exited $? (5: a preset differs from the reference engine)"
end=$(date +%s)
echo "arm64-qemu: all checks passed (publish $((published - start)) s, emulated checks $((end - published)) s)"
