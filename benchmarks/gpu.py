"""make bench-gpu: the report's Boxing config on a CUDA GPU, with and without each CUDA option.

Runs ``python -m rlkit experiment=boxing_report`` (batch 1024, one update per env step, 16 envs, a
600k replay, Double DQN with Polyak targets, Boltzmann exploration) as a user runs it, shortened to
a warm-up and a window (benchmarks/peers.py's rate: env steps per second from the first training
row past the warm-up to the last, so the updates that compile stay outside it). Variants:
- ``none``: CUDA, float32, the replay in host memory, eager;
- each CUDA option alone: ``amp`` (float16 autocast + GradScaler: the report's own hardware,
  ``cuda_amp``), ``replay_device`` (``hardware.replay_device=cuda``: frames, sampling and stacking
  on the GPU), ``compile`` (``hardware.compile=true``);
- ``all``: the three together.

For each: the rate, the compile seconds (logged apart as ``compile_s``), the GPU's utilization
(median of ``nvidia-smi`` samples taken while the run's training rows were inside the window) and
its peak memory in use during the run (``nvidia-smi``'s memory.used: the CUDA context included).

Writes benchmarks/results/gpu.{json,md}. Without a CUDA GPU it says so and exits 2; it needs
``nvidia-smi`` on the PATH.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import DQN_WARMUP_KEYS, REPO, rlkit_command, run_rate, write_results  # noqa: E402

VARIANTS = {
    "none": ["hardware.amp=false"],
    "amp": [],
    "replay_device": ["hardware.amp=false", "hardware.replay_device=cuda"],
    "compile": ["hardware.amp=false", "hardware.compile=true"],
    "all": ["hardware.replay_device=cuda", "hardware.compile=true"],
}
BASE = ["experiment=boxing_report"]  # hardware=cuda_amp: CUDA, AMP on, 16 envs


def parse_nvidia_smi(text: str) -> tuple[float, float]:
    """The first GPU's ``utilization.gpu`` (%) and ``memory.used`` (MiB) from
    ``nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits``."""
    fields = text.strip().splitlines()[0].split(",") if text.strip() else []
    if len(fields) != 2:
        raise ValueError(f"not 'utilization, memory' in {text.strip()[:200]!r}")
    utilization, memory_mib = (float(field) for field in fields)  # ValueError on [N/A]
    return utilization, memory_mib


def last_env_step(metrics_file: Path) -> int:
    """The env step of the run's newest training row so far (0 before the first)."""
    if not metrics_file.exists():
        return 0
    env_step = 0
    for line in metrics_file.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a row being written
            continue
        if "sps" in row:
            env_step = row["env_step"]
    return env_step


class GpuSampler(threading.Thread):
    """Reads the GPU's utilization and memory every ``period_s`` while a run goes on, each reading
    tagged with the run's newest training row."""

    def __init__(self, metrics_file: Path, period_s: float) -> None:
        super().__init__(daemon=True)
        self.metrics_file, self.period_s = metrics_file, period_s
        self.samples: list[tuple[int, float, float]] = []  # (env step, utilization %, memory MiB)
        self.error: str | None = None  # why sampling stopped early, if it did
        self.done = threading.Event()

    def run(self) -> None:
        query = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"]
        while not self.done.wait(self.period_s):
            reading = subprocess.run(query, capture_output=True, text=True)
            try:
                utilization, memory_mib = parse_nvidia_smi(reading.stdout)
            except ValueError as err:
                self.error = f"nvidia-smi exited {reading.returncode}: {reading.stderr.strip() or err}"
                return
            self.samples.append((last_env_step(self.metrics_file), utilization, memory_mib))


def gpu_figures(samples: list[tuple[int, float, float]], warmup: int, total: int) -> dict:
    """Median utilization over the samples taken inside the window (the newest row past the warm-up,
    before the last row), and the peak memory over all of them."""
    window = [u for step, u, _ in samples if warmup < step < total]
    return {"gpu_utilization_pct": statistics.median(window) if window else None,
            "gpu_memory_peak_mib": max((m for _, _, m in samples), default=None),
            "gpu_samples_in_window": len(window)}


def measure(name: str, total: int, warmup: int, interval: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cmd = rlkit_command(BASE + VARIANTS[name], total, warmup, interval, DQN_WARMUP_KEYS, run_dir)
        sampler = GpuSampler(run_dir / "metrics.jsonl", period_s=0.5)
        sampler.start()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        sampler.done.set()
        sampler.join()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        if sampler.error is not None:
            raise RuntimeError(f"{name}: the GPU readings stopped: {sampler.error}")
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        compile_s = sum(row.get("compile_s", 0.0) for row in rows)
        return {"variant": name, "overrides": VARIANTS[name], **run_rate(run_dir, warmup),
                "compile_s": round(compile_s, 1), **gpu_figures(sampler.samples, warmup, total)}


def markdown(results: dict) -> str:
    lines = ["# The report's Boxing config on a GPU (make bench-gpu)", "",
             f"Machine: {results['machine']}. `python -m rlkit experiment=boxing_report` (batch 1024, one update "
             f"per env step, 16 envs, 600k replay), {results['warmup_env_steps']} warm-up env steps, then a "
             f"window to {results['total_env_steps']}; env steps per second over the window, the GPU's "
             "utilization (median of nvidia-smi samples in the window) and its peak memory in use (CUDA "
             "context included).", "",
             "| variant | overrides | env steps/s | compile s | GPU utilization | GPU memory peak |",
             "|---|---|---|---|---|---|"]
    for row in results["rows"]:
        utilization = "-" if row["gpu_utilization_pct"] is None else f"{row['gpu_utilization_pct']:.0f}%"
        memory = "-" if row["gpu_memory_peak_mib"] is None else f"{row['gpu_memory_peak_mib'] / 1024:.1f} GiB"
        overrides = " ".join(f"`{o}`" for o in row["overrides"]) or "(the report's)"
        lines.append(f"| {row['variant']} | {overrides} | {row['sps']:.1f} | {row['compile_s']:.1f} | "
                     f"{utilization} | {memory} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--warmup", type=int, default=5_000, help="env steps of random actions before learning")
    parser.add_argument("--window", type=int, default=8_000, help="env steps measured after the warm-up")
    parser.add_argument("--interval", type=int, default=512, help="env steps between training rows")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"bench-gpu needs a CUDA GPU: torch {torch.__version__} sees none (torch.cuda.is_available() "
              "is False). Nothing was written.", file=sys.stderr)
        sys.exit(2)
    if shutil.which("nvidia-smi") is None:
        print("bench-gpu reads the GPU's utilization and memory with nvidia-smi, which is not on the PATH. "
              "Nothing was written.", file=sys.stderr)
        sys.exit(2)
    total = args.warmup + args.window
    rows = []
    for name in args.variants:
        rows.append(measure(name, total, args.warmup, args.interval))
        print(rows[-1], flush=True)
    results = {"machine": {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
                           "date": time.strftime("%Y-%m-%d %H:%M")},
               "warmup_env_steps": args.warmup, "total_env_steps": total, "rows": rows}
    write_results("gpu", results, markdown(results))


if __name__ == "__main__":
    main()
