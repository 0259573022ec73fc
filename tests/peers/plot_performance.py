#!/usr/bin/env python3
"""Draws docs/performance.png from a table written by `ViTCompiler.Benchmarks table --out FILE` and, when given, the
thread-scaling JSON lines of `vit bench --json`.

  /usr/bin/python3 tests/peers/plot_performance.py TABLE.md [SCALING.jsonl] OUT.png   (needs python3-matplotlib)
"""
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

table, out = sys.argv[1], sys.argv[-1]
scaling = sys.argv[2] if len(sys.argv) == 4 else None

rows = []
for line in open(table):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 9 and cells[1].isdigit():
        rows.append((cells[0], int(cells[1]), cells[2], float(cells[4])))

groups = sorted({(m, b) for m, b, _, _ in rows}, key=lambda g: (["ti16", "s16", "b16"].index(g[0]), g[1]))
engines = []
for _, _, e, _ in rows:
    if e not in engines and not e.startswith("reference"):
        engines.append(e)

fig, axes = plt.subplots(1, 2 if scaling else 1, figsize=(15 if scaling else 9, 5))
ax = axes[0] if scaling else axes
width = 0.8 / len(engines)
for i, engine in enumerate(engines):
    values = []
    for g in groups:
        match = [ms for m, b, e, ms in rows if (m, b) == g and e == engine]
        ort = [ms for m, b, e, ms in rows if (m, b) == g and e.startswith("ONNX")]
        values.append(match[0] / ort[0] if match and ort else 0)
    ax.bar([x + i * width for x in range(len(groups))], values, width, label=engine)
ax.axhline(1.0, color="grey", linewidth=0.8)
ax.set_xticks([x + width * (len(engines) - 1) / 2 for x in range(len(groups))])
names = {"ti16": "ViT-Ti/16", "s16": "ViT-S/16", "b16": "ViT-B/16"}
ax.set_xticklabels([f"{names[m]}\nbatch {b}" for m, b in groups])
ax.set_ylabel("time per image ÷ ONNX Runtime's (lower is faster)")
ax.set_title("Forward pass, 2 cores (Zen 3, AVX2), same weights")
ax.legend(fontsize=8)

if scaling:
    points = [json.loads(l) for l in open(scaling) if l.startswith("{")]
    ax2 = axes[1]
    for preset in ["vit-ti16", "vit-b16"]:
        for batch in [1, 8]:
            series = sorted((p["threads"], p["per_image_ms"]) for p in points if p["preset"] == preset and p["batch"] == batch)
            if series:
                base = series[0][1]
                ax2.plot([t for t, _ in series], [base / ms for _, ms in series], marker="o", label=f"{preset} batch {batch}")
    ax2.plot([1, 16], [1, 16], color="grey", linestyle="--", linewidth=0.8, label="linear")
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log", base=2)
    ax2.set_xlabel("threads")
    ax2.set_ylabel("speed-up over 1 thread")
    ax2.set_title("Thread scaling, 16-core Xeon (AVX-512 build)")
    ax2.legend(fontsize=8)

fig.tight_layout()
fig.savefig(out, dpi=110)
print("wrote", out)
