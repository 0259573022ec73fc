#!/bin/bash
# Carried to a lent many-core machine with NativeAOT builds of vit in .device/vit-v3 and .device/vit-v4:
#   dotnet publish src/ViTCompiler.Cli -c Release -r linux-x64 -o .device/vit-v3
#   dotnet publish src/ViTCompiler.Cli -c Release -r linux-x64 -p:IlcInstructionSet=x86-64-v4 -o .device/vit-v4
# Generated (AVX-512 NativeAOT vit bench) vs ONNX Runtime (python package on the device) on the same exported graphs.
set -u
out=${OUT:-/tmp/out}; mkdir -p "$out"
V=.device/vit-v4/vit; chmod +x $V .device/vit-v3/vit
for m in ti16 b16; do $V export-onnx /tmp/$m.onnx --preset vit-$m > /dev/null; done
python3 -c "import onnxruntime; print('onnxruntime', onnxruntime.__version__)" > "$out/ort-version.txt" 2>&1
for round in 1 2; do
  for t in 2 16; do
    for m in ti16 b16; do
      for b in 1 8; do
        runs=10; [ $m = b16 ] && [ $b = 8 ] && runs=4
        $V bench --preset vit-$m --batch $b --runs $runs --warmup 2 --threads $t --json
        python3 - $m $b $t $runs <<'PY'
import json, sys, time, numpy as np, onnxruntime as ort
m, b, t, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
so = ort.SessionOptions(); so.intra_op_num_threads = t; so.inter_op_num_threads = 1
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL; so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
s = ort.InferenceSession(f"/tmp/{m}.onnx", so, providers=["CPUExecutionProvider"])
x = (np.random.rand(b, 3, 224, 224) * 2 - 1).astype(np.float32)
for _ in range(2): s.run(None, {"pixels": x})
ts = []
for _ in range(runs):
    st = time.perf_counter(); s.run(None, {"pixels": x}); ts.append((time.perf_counter() - st) * 1000)
ts.sort()
print(json.dumps({"preset": "vit-" + m, "engine": "onnxruntime " + ort.__version__, "batch": b, "threads": t, "median_ms": ts[len(ts) // 2], "min_ms": ts[0]}))
PY
      done
    done
  done
done > "$out/ort-vs-generated.jsonl" 2>&1
echo done
