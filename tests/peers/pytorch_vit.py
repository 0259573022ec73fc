#!/usr/bin/env python3
"""PyTorch peer for the side-by-side benchmarks: the same ViT (pre-LayerNorm, exact GELU, class token), timed the
same way (median of repeated runs after warm-up), printed as one JSON object.

Needs Debian's python3-torch (PyTorch 1.13) and OpenBLAS: apt-get install -y python3-torch libopenblas0-pthread.
Debian's torch calls BLAS through the libblas.so.3 alternative; without OpenBLAS installed that is the unoptimised
reference BLAS and PyTorch runs about three times slower. Run with /usr/bin/python3 (Debian's interpreter).

  forward: python3 pytorch_vit.py forward --model b16 --batch 1 --threads 2 --runs 10
  train:   python3 pytorch_vit.py train --model fashion --batch 128 --threads 2 --runs 10
"""
import argparse, json, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {  # image, channels, patch, layers, hidden, heads, mlp, classes
    "ti16": (224, 3, 16, 12, 192, 3, 768, 1000),
    "s16": (224, 3, 16, 12, 384, 6, 1536, 1000),
    "b16": (224, 3, 16, 12, 768, 12, 3072, 1000),
    "fashion": (28, 1, 4, 6, 64, 4, 128, 10),
}


class Block(nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.fc1 = nn.Linear(d, mlp)
        self.fc2 = nn.Linear(mlp, d)

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5
        x = x + self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Vit(nn.Module):
    def __init__(self, image, channels, patch, layers, d, heads, mlp, classes):
        super().__init__()
        self.patch = nn.Conv2d(channels, d, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, heads, mlp) for _ in range(layers))
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, classes)

    def forward(self, pixels):
        x = self.patch(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, 0]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["forward", "train"])
    parser.add_argument("--model", default="ti16", choices=CONFIGS)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = CONFIGS[args.model]
    model = Vit(*cfg)
    pixels = torch.rand(args.batch, cfg[1], cfg[0], cfg[0]) * 2 - 1
    labels = torch.arange(args.batch) % cfg[7]
    times = []
    if args.mode == "forward":
        model.eval()
        with torch.no_grad():
            for i in range(args.runs + 2):
                start = time.perf_counter()
                model(pixels)
                if i >= 2:
                    times.append(time.perf_counter() - start)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        model.train()
        for i in range(args.runs + 2):
            start = time.perf_counter()
            optimizer.zero_grad()
            loss = F.cross_entropy(model(pixels), labels)
            loss.backward()
            optimizer.step()
            if i >= 2:
                times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(json.dumps({
        "peer": f"PyTorch {torch.__version__}", "mode": args.mode, "model": args.model, "batch": args.batch,
        "threads": args.threads, "median_ms": median * 1000, "min_ms": min(times) * 1000,
        "images_per_second": args.batch / median,
    }))


if __name__ == "__main__":
    main()
