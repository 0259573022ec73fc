#!/bin/bash
# Carried to a lent many-core machine with NativeAOT builds of vit in .device/vit-v3 and .device/vit-v4:
#   dotnet publish src/ViTCompiler.Cli -c Release -r linux-x64 -o .device/vit-v3
#   dotnet publish src/ViTCompiler.Cli -c Release -r linux-x64 -p:IlcInstructionSet=x86-64-v4 -o .device/vit-v4
# Device checks for ViTCompiler (runs on the lent 16-core machine): the AVX-512 path against the reference engine,
# and how forward and training time scale with threads. Binaries are NativeAOT builds carried in .device/.
set -u
out=${OUT:-/tmp/out}; mkdir -p "$out"
{ lscpu; echo; echo "avx512 flags: $(grep -o 'avx512[a-z0-9_]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"; nproc; } > "$out/cpu.txt" 2>&1
v4=.device/vit-v4/vit; v3=.device/vit-v3/vit
chmod +x $v4 $v3
best=$v3; grep -q avx512f /proc/cpuinfo && best=$v4
echo "binary: $best" >> "$out/cpu.txt"
{
  $best selftest --json
  $best selftest --preset fashion-mnist --preset vit-ti16 --threads 16 --json
  $v3 selftest --preset fashion-mnist --json
} > "$out/selftest.jsonl" 2>&1
for t in 1 2 4 8 16; do
  $best bench --preset vit-ti16 --batch 1 --runs 15 --threads $t --json
  $best bench --preset vit-ti16 --batch 8 --runs 7 --threads $t --json
  $best bench --preset vit-b16 --batch 1 --runs 7 --threads $t --json
  $best bench --preset vit-b16 --batch 8 --runs 3 --threads $t --json
done > "$out/scaling.jsonl" 2>&1
for t in 1 16; do
  $v3 bench --preset vit-b16 --batch 1 --runs 5 --threads $t --json
  $v3 bench --preset vit-ti16 --batch 8 --runs 5 --threads $t --json
done > "$out/avx2-on-device.jsonl" 2>&1
for t in 1 2 4 8 16; do
  $best train --data data/fashion-mnist --steps 12 --batch 128 --threads $t --out /tmp/t$t.safetensors --json 2>/dev/null | tail -1
done > "$out/training.jsonl"
echo done
