#!/usr/bin/python3
"""The seed model in PyTorch, timed like bench_train times the project.

Run with Debian's interpreter (/usr/bin/python3, python3-torch 1.13). Keras's padding
(DESIGN.md section 1): convolutions pad 1 on each side; the stride-2 transposed conv pads
0 and drops the 29th row and column (TensorFlow's "same": output row r = 2i + k); the
stride-1 transposed conv pads 1. Loss BCE, Adadelta lr 1.0, rho 0.95, eps 1e-7.

Training is timed over --steps steps after --warmup steps and scaled to one epoch of
--samples samples (ceil(samples / batch) steps); the JSON says how many steps were timed.
"""
import argparse
import json
import math
import os
import resource
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Seed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 12, 3, padding=1)
        self.conv2 = nn.Conv2d(12, 14, 3, padding=1)
        self.up = nn.ConvTranspose2d(14, 12, 3, stride=2, padding=0)  # 14 -> 29 rows, cropped to 28
        self.out = nn.ConvTranspose2d(12, 1, 3, stride=1, padding=1)
        for m in self.modules():  # Keras: glorot_uniform kernels, zero biases
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.conv2(x))
        x = F.relu(self.up(x)[:, :, :28, :28])
        return torch.sigmoid(self.out(x))


def load_images(data_dir, count):
    """First `count` MNIST training images in [0, 1] from the raw IDX file, or None."""
    path = os.path.join(data_dir, "train-images-idx3-ubyte") if data_dir else ""
    if not path or not os.path.exists(path):
        return None
    raw = np.fromfile(path, dtype=np.uint8, offset=16)
    return raw[: count * 784].reshape(count, 1, 28, 28).astype(np.float32) / 255.0


def make_data(data_dir, count):
    clean = load_images(data_dir, count)
    source = "mnist"
    rng = np.random.default_rng(0)
    if clean is None:  # speed does not depend on the pixel values
        clean = (rng.random((count, 1, 28, 28), dtype=np.float32) > 0.8).astype(np.float32)
        source = "synthetic"
    noisy = np.clip(clean + 0.5 * rng.standard_normal(clean.shape, dtype=np.float32), 0.0, 1.0)
    return torch.from_numpy(noisy), torch.from_numpy(clean), source


def train_steps(model, opt, x, y, batch, first_step, steps, memory_format):
    n = x.shape[0]
    for s in range(first_step, first_step + steps):
        begin = (s * batch) % n
        xb = x[begin:begin + batch].contiguous(memory_format=memory_format)
        yb = y[begin:begin + batch].contiguous(memory_format=memory_format)
        opt.zero_grad(set_to_none=False)
        loss = F.binary_cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    return float(loss)


def timed_training(x, y, batch, warmup, steps, memory_format):
    torch.manual_seed(0)
    model = Seed().to(memory_format=memory_format)
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)
    train_steps(model, opt, x, y, batch, 0, warmup, memory_format)
    start = time.perf_counter()
    loss = train_steps(model, opt, x, y, batch, warmup, steps, memory_format)
    return time.perf_counter() - start, loss, model


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--samples", type=int, default=55000, help="samples in one epoch")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--steps", type=int, default=200, help="timed steps, scaled to one epoch")
    p.add_argument("--infer-batch", type=int, default=256)
    p.add_argument("--infer-images", type=int, default=10240)
    p.add_argument("--json", default="")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    x, y, source = make_data(args.data_dir, args.samples)

    # Pick the faster layout on a short trial, then time that one.
    trial = {}
    for name, fmt in (("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)):
        trial[name] = timed_training(x, y, args.batch, 3, 10, fmt)[0]
    layout = min(trial, key=trial.get)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format

    seconds, loss, model = timed_training(x, y, args.batch, args.warmup, args.steps, fmt)
    epoch_steps = math.ceil(args.samples / args.batch)
    per_epoch = seconds / args.steps * epoch_steps

    model.eval()
    images = min(args.infer_images, x.shape[0])
    with torch.no_grad():
        model(x[: args.infer_batch].contiguous(memory_format=fmt))  # warm-up
        start = time.perf_counter()
        for begin in range(0, images, args.infer_batch):
            model(x[begin:begin + args.infer_batch].contiguous(memory_format=fmt))
        infer_seconds = time.perf_counter() - start

    result = {
        "framework": f"pytorch {torch.__version__}",
        "data": source,
        "threads": args.threads,
        "batch": args.batch,
        "layout": layout,
        "layout_trial_seconds": trial,
        "timed_steps": args.steps,
        "epoch_steps": epoch_steps,
        "timed_seconds": seconds,
        "seconds_per_epoch": per_epoch,
        "scaled_from_steps": args.steps < epoch_steps,
        "last_loss": loss,
        "inference_images_per_second": images / infer_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    text = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
