#!/usr/bin/python3
"""The seed model (or with --model classifier-large the large classifier) in PyTorch,
timed like bench_train times the project.

Run with Debian's interpreter (/usr/bin/python3, python3-torch 1.13). Keras's padding
(DESIGN.md section 1): convolutions pad 1 on each side; the stride-2 transposed conv pads
0 and drops the 29th row and column (TensorFlow's "same": output row r = 2i + k); the
stride-1 transposed conv pads 1. Loss BCE, Adadelta lr 1.0, rho 0.95, eps 1e-7.
classifier-large is src/nn/models.cpp's, trained as `denoise classify train` trains it:
categorical cross-entropy (on logits, PyTorch's fused form of softmax + CCE), Adam lr
1e-3 with Keras's eps 1e-7, on clean digits and their labels.

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


class ClassifierLarge(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5)               # valid: 28 -> 24, pooled to 12
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)   # same
        self.conv3 = nn.Conv2d(64, 64, 3)              # valid: 12 -> 10, pooled to 5
        self.dense = nn.Linear(64 * 5 * 5, 256)
        self.out = nn.Linear(256, 10)
        for m in self.modules():  # Keras: glorot_uniform kernels, zero biases
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        x = F.relu(self.dense(torch.flatten(x, 1)))
        return self.out(F.dropout(x, 0.5, self.training))


# Per model: the module, its loss on (output, target) and its optimizer, as the project trains it.
MODELS = {
    "seed": (Seed, F.binary_cross_entropy,
             lambda params: torch.optim.Adadelta(params, lr=1.0, rho=0.95, eps=1e-7)),
    "classifier-large": (ClassifierLarge, F.cross_entropy,
                         lambda params: torch.optim.Adam(params, lr=1e-3, eps=1e-7)),
}


def load_idx(data_dir, name, header, count):
    """The first `count` bytes after the header of a raw MNIST IDX file, or None."""
    path = os.path.join(data_dir, name) if data_dir else ""
    if not path or not os.path.exists(path):
        return None
    return np.fromfile(path, dtype=np.uint8, offset=header)[:count]


def make_data(model, data_dir, count):
    """Inputs and targets: noisy and clean digits for the seed, clean digits and labels
    for the classifier."""
    raw = load_idx(data_dir, "train-images-idx3-ubyte", 16, count * 784)
    labels = load_idx(data_dir, "train-labels-idx1-ubyte", 8, count)
    source = "mnist"
    rng = np.random.default_rng(0)
    if raw is None or labels is None:  # speed does not depend on the pixel values
        raw = ((rng.random(count * 784) > 0.8) * 255).astype(np.uint8)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        source = "synthetic"
    clean = raw.reshape(count, 1, 28, 28).astype(np.float32) / 255.0
    if model != "seed":
        return torch.from_numpy(clean), torch.from_numpy(labels.astype(np.int64)), source
    noisy = np.clip(clean + 0.5 * rng.standard_normal(clean.shape, dtype=np.float32), 0.0, 1.0)
    return torch.from_numpy(noisy), torch.from_numpy(clean), source


def train_steps(model, loss_fn, opt, x, y, batch, first_step, steps, memory_format):
    n = x.shape[0]
    for s in range(first_step, first_step + steps):
        begin = (s * batch) % n
        xb = x[begin:begin + batch].contiguous(memory_format=memory_format)
        yb = y[begin:begin + batch]
        if yb.dim() == 4:  # image targets in the output's layout
            yb = yb.contiguous(memory_format=memory_format)
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    return float(loss)


def timed_training(name, x, y, batch, warmup, steps, memory_format):
    module, loss_fn, optimizer = MODELS[name]
    torch.manual_seed(0)
    model = module().to(memory_format=memory_format)
    opt = optimizer(model.parameters())
    train_steps(model, loss_fn, opt, x, y, batch, 0, warmup, memory_format)
    start, cpu_start = time.perf_counter(), time.process_time()
    loss = train_steps(model, loss_fn, opt, x, y, batch, warmup, steps, memory_format)
    return time.perf_counter() - start, time.process_time() - cpu_start, loss, model


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=sorted(MODELS), default="seed")
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
    x, y, source = make_data(args.model, args.data_dir, args.samples)

    # Pick the faster layout on a short trial, then time that one.
    trial = {}
    for name, fmt in (("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)):
        trial[name] = timed_training(args.model, x, y, args.batch, 3, 10, fmt)[0]
    layout = min(trial, key=trial.get)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format

    seconds, cpu, loss, model = timed_training(args.model, x, y, args.batch, args.warmup, args.steps, fmt)
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
        "model": args.model,
        "data": source,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "threads": args.threads,
        "batch": args.batch,
        "layout": layout,
        "layout_trial_seconds": trial,
        "timed_steps": args.steps,
        "epoch_steps": epoch_steps,
        "timed_seconds": seconds,
        "seconds_per_epoch": per_epoch,
        "cpu_seconds_per_epoch": cpu / args.steps * epoch_steps,
        "us_per_sample": seconds / (args.steps * args.batch) * 1e6,
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
