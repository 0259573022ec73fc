#!/usr/bin/env python3
"""PyTorch peer for time to accuracy on Fashion-MNIST: the FashionMnist sample's models (the hybrid FashionHybridVit, the
deep hybrid FashionDeepHybridVit or the pure FashionVit) trained with TrainerOptions.FashionMnist's recipe (the flags
below give FashionMnistFull's) from the same initialisation scheme (ParameterInit.Initialize), printing one JSON line per
epoch with the test accuracy and the wall time since start.

  /usr/bin/python3 tests/peers/pytorch_fashion_train.py --model hybrid --epochs 2 --threads 2
  /usr/bin/python3 tests/peers/pytorch_fashion_train.py --model deep --epochs 16 --crop 1 --flip-test --threads 2
  /usr/bin/python3 tests/peers/pytorch_fashion_train.py --model vit --data /usr/share/datasets/fashion-mnist

Needs Debian's python3-torch (PyTorch 1.13) and libopenblas0-pthread (see pytorch_vit.py). Benchmark it on a quiet machine
with the OpenBLAS variables of this repository's shell cleared for this command only:

  (unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; /usr/bin/python3 tests/peers/pytorch_fashion_train.py ... > torch.jsonl)

What is the same as ViTCompiler's run: the model (pre-LayerNorm blocks, exact GELU, class token, LayerNorm ε 1e-6; the
hybrids' stems of 3 × 3 convolutions without bias, GroupNorm (8 groups, ε 1e-5) and ReLU — 32 channels with stride 2,
64 with stride 2; or 32/1, 64/2, 64/2, 64/1, 64/1 — 1 × 1 patches, 2 blocks), the initialisation (timm's "jax" scheme), AdamW (β 0.9/0.999, ε 1e-8) with
decoupled weight decay 0.05 on weight matrices and convolutions only, linear warm-up for 20 steps then cosine decay to
1e-5 per step, global-norm clipping at 1, no label smoothing and no augmentation (--smoothing and --crop turn on label
smoothing and random crops with horizontal flips; --flip-test averages each test image's logits with its mirror
image's in the last epoch's evaluation, as TrainerOptions.TestTimeFlip does), normalisation (x − 0.2860) / 0.3530, batches of 32 drawn without
replacement and the last partial batch dropped. What differs: the random streams (shuffling, augmentation, initial
values), so curves agree in distribution, not bit for bit.
"""
import argparse, gzip, json, math, os, struct, time

import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_vit import Block  # the transformer block, written once for both peers

MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise FileNotFoundError(f"{stem}(.gz) not in {folder}")


def load(args):
    f = args.data
    return (read_idx(find(f, "train-images-idx3-ubyte")), read_idx(find(f, "train-labels-idx1-ubyte")).long(),
            read_idx(find(f, "t10k-images-idx3-ubyte")), read_idx(find(f, "t10k-labels-idx1-ubyte")).long())


class Vit(nn.Module):
    """FashionVit (stem=()) or a hybrid (stem=((channels, stride), ...), patch 1, 2 layers), as declared in samples/FashionMnist."""

    def __init__(self, stem, groups, patch, layers=6, d=64, heads=4, mlp=128, classes=10, image=28, channels=1):
        super().__init__()
        stages, size = [], image
        for out, stride in stem:
            stages += [nn.Conv2d(channels, out, 3, stride, 1, bias=False), nn.GroupNorm(groups, out, eps=1e-5), nn.ReLU()]
            channels, size = out, size // stride
        self.stem = nn.Sequential(*stages)
        self.patch = nn.Conv2d(channels, d, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, (size // patch) ** 2 + 1, d))
        self.blocks = nn.ModuleList(Block(d, heads, mlp) for _ in range(layers))
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, classes)
        self.initialise()

    def initialise(self):
        # ParameterInit.Initialize: the paper's JAX scheme.
        with torch.no_grad():
            for name, m in self.named_modules():
                if isinstance(m, nn.Linear):
                    if name.endswith("qkv"):  # q, k and v counted separately: fans (d, d)
                        limit = math.sqrt(6.0 / (m.in_features + m.out_features // 3))
                        m.weight.uniform_(-limit, limit)
                    else:
                        nn.init.xavier_uniform_(m.weight)
                    if name.endswith("fc1") or name.endswith("fc2"):
                        m.bias.normal_(0, 1e-6)
                    else:
                        m.bias.zero_()
                elif isinstance(m, nn.Conv2d) and m is not self.patch:
                    nn.init.xavier_uniform_(m.weight)  # receptive field counted in both fans, as in ParameterInit
                elif isinstance(m, (nn.LayerNorm, nn.GroupNorm)):
                    m.weight.fill_(1)
                    m.bias.zero_()
            fan_in = self.patch.weight[0].numel()
            std = math.sqrt(1.0 / fan_in) / 0.87962566103423978  # LeCun normal, truncated at ±2σ
            nn.init.trunc_normal_(self.patch.weight, 0, std, -2 * std, 2 * std)
            self.patch.bias.zero_()
            self.pos.normal_(0, 0.02)
            self.cls.zero_()
            self.head.weight.zero_()
            self.head.bias.zero_()

    def forward(self, pixels):
        x = self.patch(self.stem(pixels)).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, 0]))


# The sample's models (samples/FashionMnist/FashionVit.cs), by the sample's --model names.
MODELS = {
    "hybrid": lambda: Vit(((32, 2), (64, 2)), 8, 1, layers=2),
    "deep": lambda: Vit(((32, 1), (64, 2), (64, 2), (64, 1), (64, 1)), 8, 1, layers=2),
    "vit": lambda: Vit((), 8, 4),
}


def augment(images, padding, generator):
    """Random crops with `padding` black pixels and horizontal flips, on raw 0–255 images (B, 28, 28)."""
    b, h, w = images.shape
    padded = F.pad(images, (padding,) * 4)
    tops = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
    lefts = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
    rows = (tops[:, None] + torch.arange(h))[:, :, None].expand(b, h, w)
    cols = (lefts[:, None] + torch.arange(w))[:, None, :].expand(b, h, w)
    out = padded[torch.arange(b)[:, None, None], rows, cols]
    flip = torch.rand(b, generator=generator) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


def normalise(images):
    return ((images.float() / 255.0 - MEAN) / STD).unsqueeze(1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=list(MODELS), default="hybrid")
    p.add_argument("--data", default="data/fashion-mnist", help="folder with the four IDX files (default: the repository's)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr", type=float, default=1e-5)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--smoothing", type=float, default=0.0)
    p.add_argument("--crop", type=int, default=0)
    p.add_argument("--flip-test", action="store_true", help="in the last evaluation, average each test image's logits with its mirror image's")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed + 1)
    train_x, train_y, test_x, test_y = load(args)
    model = MODELS[args.model]()

    decayed = [p for n, p in model.named_parameters() if p.dim() >= 2 and n not in ("cls", "pos")]
    others = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and n not in ("cls", "pos"))]
    optimiser = torch.optim.AdamW([{"params": decayed, "weight_decay": args.weight_decay}, {"params": others, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    per_epoch = len(train_x) // args.batch
    total = per_epoch * args.epochs

    def rate(step):  # LearningRateSchedule.At
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        progress = min(1.0, max(0.0, (step - args.warmup) / max(1, total - args.warmup)))
        return args.min_lr + (args.lr - args.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))

    print(json.dumps({"kind": "start", "model": args.model, "parameters": sum(p.numel() for p in model.parameters()),
                      "train": len(train_x), "test": len(test_x), "epochs": args.epochs, "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "elapsed_seconds": round(time.perf_counter() - start, 2)}), flush=True)
    step = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        epoch_start, loss_sum = time.perf_counter(), 0.0
        for i in range(per_epoch):
            index = order[i * args.batch:(i + 1) * args.batch]
            pixels = normalise(augment(train_x[index], args.crop, generator) if args.crop > 0 else train_x[index])
            for group in optimiser.param_groups:
                group["lr"] = rate(step)
            loss = F.cross_entropy(model(pixels), train_y[index], label_smoothing=args.smoothing)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimiser.step()
            loss_sum += loss.item()
            step += 1
        train_seconds = time.perf_counter() - epoch_start
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(test_x), 500):
                logits = model(normalise(test_x[i:i + 500]))
                if args.flip_test and epoch == args.epochs:
                    logits = (logits + model(normalise(test_x[i:i + 500].flip(-1)))) / 2
                correct += (logits.argmax(-1) == test_y[i:i + 500]).sum().item()
        print(json.dumps({"kind": "epoch", "epoch": epoch, "step": step, "train_loss": round(loss_sum / per_epoch, 5),
                          "test_accuracy": correct / len(test_x), "images_per_second": round(per_epoch * args.batch / train_seconds, 1),
                          "elapsed_seconds": round(time.perf_counter() - start, 2)}), flush=True)


if __name__ == "__main__":
    main()
