#!/usr/bin/python3
"""Prints bench/run.sh's table from the JSON files in a results folder and writes
results.json there (every input file's contents, keyed by file name, plus the table)."""
import json
import os
import sys

TARGET_EPOCH_S = 2.0
TARGET_RATIO = 40.0
TARGET_IMAGES_S = 100_000
TARGET_MEMORY_MB = 200.0


def main():
    out = sys.argv[1]
    runs = {}
    for name in sorted(os.listdir(out)):
        if name.endswith(".json") and name != "results.json":
            with open(os.path.join(out, name)) as f:
                runs[name[:-5]] = json.load(f)
    denoise_rss = os.path.join(out, "denoise_train_maxrss_kb.txt")
    denoise_mb = int(open(denoise_rss).read().split()[-1]) / 1024 if os.path.exists(denoise_rss) else None

    rows = []
    print()
    print(f"{'training, one epoch (55,000 samples)':<38} {'project s':>10} {'cpu s':>8} {'PyTorch s':>10} "
          f"{'ratio':>7} {'peak MB':>8}")
    for threads, batch in ((1, 32), (2, 32), (2, 128)):
        p = runs.get(f"project_train_t{threads}_b{batch}")
        t = runs.get(f"torch_train_t{threads}_b{batch}")
        if not p:
            continue
        torch_s = t["seconds_per_epoch"] if t else None
        ratio = torch_s / p["seconds_per_epoch"] if t else None
        rows.append({"threads": threads, "batch": batch, "project_seconds_per_epoch": p["seconds_per_epoch"],
                     "project_cpu_seconds_per_epoch": p["cpu_seconds_per_epoch"],
                     "pytorch_seconds_per_epoch": torch_s, "ratio": ratio, "peak_rss_mb": p["peak_rss_mb"]})
        label = f"{threads} thread{'s' if threads > 1 else ''}, batch {batch}"
        fmt = lambda v, spec: format(v, spec) if v is not None else "-"
        print(f"{label:<38} {p['seconds_per_epoch']:>10.2f} {p['cpu_seconds_per_epoch']:>8.2f} "
              f"{fmt(torch_s, '>10.1f')} {fmt(ratio, '>6.1f') + 'x':>7} {p['peak_rss_mb']:>8.0f}")

    infer = runs.get("project_infer_t2_b256")
    torch_infer = runs.get("torch_train_t2_b32", {}).get("inference_images_per_second")
    if infer:
        print(f"{'inference, 2 threads, batch 256':<38} {infer['images_per_second']:>10.0f} images/s"
              + (f"   PyTorch {torch_infer:.0f} images/s" if torch_infer else ""))
    if denoise_mb is not None:
        print(f"{'denoise train --epochs 1, peak RSS':<38} {denoise_mb:>10.0f} MB")
    any_run = runs.get("project_train_t2_b32", {})
    print(f"data: {any_run.get('data', '?')}; AVX-512 direct kernels: {any_run.get('direct_kernels', '?')}; "
          f"PyTorch times are "
          f"{runs.get('torch_train_t2_b32', {}).get('timed_steps', '?')} timed steps scaled to an epoch; "
          f"load average at start {runs.get('project_train_t2_b32', {}).get('load_average_before', '?')}")

    two = next((r for r in rows if r["threads"] == 2 and r["batch"] == 32), None)
    peak = denoise_mb if denoise_mb is not None else (two or {}).get("peak_rss_mb")
    checks = {
        "train_2_threads_s_per_epoch <= 2.0": two is not None and two["project_seconds_per_epoch"] <= TARGET_EPOCH_S,
        "ratio_vs_pytorch >= 40": two is not None and (two["ratio"] or 0) >= TARGET_RATIO,
        "inference_images_per_s >= 100000": bool(infer) and infer["images_per_second"] >= TARGET_IMAGES_S,
        "peak_memory_mb <= 200": peak is not None and peak <= TARGET_MEMORY_MB,
    }
    print("targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in checks.items()))

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"table": rows, "inference": infer, "denoise_train_peak_rss_mb": denoise_mb,
                   "targets": checks, "runs": runs}, f, indent=2)
        f.write("\n")
    print(f"results: {os.path.join(out, 'results.json')}")


if __name__ == "__main__":
    main()
