#!/usr/bin/env python3
"""Writes the transfer experiment's image folders (docs/FINETUNE.md) from the Fashion-MNIST IDX files, as PGM images.

    make_folders.py IDX_DIR OUT_DIR [--pretrain-per-class N] [--target-per-class N]

OUT_DIR/pretrain       six classes (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal), N each, from the training split
OUT_DIR/target         the other four (Shirt, Sneaker, Bag, Ankle boot), 100 each, from the training split
OUT_DIR/target-test    those four classes' whole t10k split (1,000 each)
OUT_DIR/target-val     the first 50 of each of those in target-test: a small set to watch during training

The images are chosen deterministically (the first N of each class in file order). Standard library only.
"""
import argparse
import gzip
import os
import struct

NAMES = ["T-shirt-top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle-boot"]
PRETRAIN = [0, 1, 2, 3, 4, 5]
TARGET = [6, 7, 8, 9]


def read_idx(folder, stem):
    path = os.path.join(folder, stem)
    opener = open
    if not os.path.exists(path):
        path += ".gz"
        opener = gzip.open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        size = rows * cols
        return [data[16 + i * size:16 + (i + 1) * size] for i in range(count)], rows, cols
    if magic == 2049:
        return list(data[8:8 + count]), None, None
    raise SystemExit(f"{path}: not an IDX image or label file (magic {magic})")


def write(images, labels, rows, cols, classes, per_class, out):
    taken = {c: 0 for c in classes}
    for c in classes:
        os.makedirs(os.path.join(out, NAMES[c]), exist_ok=True)
    for i, (pixels, label) in enumerate(zip(images, labels)):
        if label not in taken or (per_class is not None and taken[label] >= per_class):
            continue
        with open(os.path.join(out, NAMES[label], f"{i:05d}.pgm"), "wb") as f:
            f.write(b"P5\n%d %d\n255\n" % (cols, rows))
            f.write(pixels)
        taken[label] += 1
    short = [NAMES[c] for c in classes if per_class is not None and taken[c] < per_class]
    if short:
        raise SystemExit(f"{out}: too few images of {', '.join(short)}")
    print(f"{out}: {sum(taken.values())} images in {len(classes)} classes")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("idx")
    parser.add_argument("out")
    parser.add_argument("--pretrain-per-class", type=int, default=1000)
    parser.add_argument("--target-per-class", type=int, default=100)
    args = parser.parse_args()
    train, rows, cols = read_idx(args.idx, "train-images-idx3-ubyte")
    train_labels, _, _ = read_idx(args.idx, "train-labels-idx1-ubyte")
    test, _, _ = read_idx(args.idx, "t10k-images-idx3-ubyte")
    test_labels, _, _ = read_idx(args.idx, "t10k-labels-idx1-ubyte")
    write(train, train_labels, rows, cols, PRETRAIN, args.pretrain_per_class, os.path.join(args.out, "pretrain"))
    write(train, train_labels, rows, cols, TARGET, args.target_per_class, os.path.join(args.out, "target"))
    write(test, test_labels, rows, cols, TARGET, None, os.path.join(args.out, "target-test"))
    write(test, test_labels, rows, cols, TARGET, 50, os.path.join(args.out, "target-val"))


if __name__ == "__main__":
    main()
