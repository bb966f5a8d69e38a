"""make bench-gpu: the report's Boxing config on a CUDA GPU, with and without each CUDA option.

Runs ``python -m rlkit experiment=boxing_report`` (batch 1024, one update per env step, 16 envs, a
600k replay, Double DQN with Polyak targets, Boltzmann exploration) as a user runs it, shortened to
a warm-up and a window (benchmarks/peers.py's rate: env steps per second from the first training
row past the warm-up to the last, so the updates that compile stay outside it). Variants:
- ``report``: the config as it composes (``hardware=cuda_amp``: AMP, and ``hardware.replay_device:
  auto``, which puts the frames on a GPU with room for them);
- ``none``: CUDA, float32, the replay in host memory, eager;
- each CUDA option alone: ``amp`` (float16 autocast + GradScaler), ``replay_device``
  (``hardware.replay_device=cuda``: frames, sampling and stacking on the GPU), ``compile``
  (``hardware.compile=true``);
- ``all``: the three together;
- ``graphs``: ``all`` with ``hardware.compile_mode=reduce-overhead`` (the compiled forward and
  backward replayed as CUDA graphs), and ``graphs_fp32``: the same in float32;
- ``overlap`` and ``graphs_overlap``: ``report`` and ``graphs`` with ``hardware.overlap_env_steps=true``
  (the envs step in a thread while the GPU runs the updates already earned).

For each: the rate, the compile seconds (logged apart as ``compile_s``), the GPU's utilization
(median of ``nvidia-smi`` samples taken while the run's training rows were inside the window) and
its peak memory in use during the run (``nvidia-smi``'s memory.used: the CUDA context included),
and the run's peak host RSS from its rows (the replay fills only as far as the run goes).

Writes benchmarks/results/gpu.{json,md}, anew after each variant (a lent GPU's time is short: what
was measured before a cut is kept). Each row names the commit and date it was measured at;
``--keep-others`` keeps the previous file's rows of the variants not run this time. A variant that
fails or outlasts ``--variant-timeout`` is a row with its error, and the next one runs; the exit
status is 1 if any failed. Without a CUDA GPU it says so and exits 2; it needs ``nvidia-smi`` on
the PATH.
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

from peers import DQN_WARMUP_KEYS, REPO, RESULTS, rlkit_command, run_rate, write_results  # noqa: E402

VARIANTS = {  # the report's config as it composes first, so that a run cut short still has it
    "report": [],
    "amp": ["hardware.replay_device=cpu"],
    "replay_device": ["hardware.amp=false", "hardware.replay_device=cuda"],
    "all": ["hardware.replay_device=cuda", "hardware.compile=true"],
    "graphs": ["hardware.replay_device=cuda", "hardware.compile=true", "hardware.compile_mode=reduce-overhead"],
    "overlap": ["hardware.overlap_env_steps=true"],
    "graphs_overlap": ["hardware.replay_device=cuda", "hardware.compile=true", "hardware.compile_mode=reduce-overhead",
                       "hardware.overlap_env_steps=true"],
    "graphs_fp32": ["hardware.amp=false", "hardware.replay_device=cuda", "hardware.compile=true",
                    "hardware.compile_mode=reduce-overhead"],
    "none": ["hardware.amp=false", "hardware.replay_device=cpu"],
    "compile": ["hardware.amp=false", "hardware.replay_device=cpu", "hardware.compile=true"],
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


def measure(name: str, total: int, warmup: int, interval: int, timeout_s: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cmd = rlkit_command(BASE + VARIANTS[name], total, warmup, interval, DQN_WARMUP_KEYS, run_dir)
        sampler = GpuSampler(run_dir / "metrics.jsonl", period_s=0.5)
        sampler.start()
        try:
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
        finally:
            sampler.done.set()
            sampler.join()
        if proc.returncode != 0:
            print(f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}", file=sys.stderr, flush=True)
            raise RuntimeError(f"exited {proc.returncode}: {' '.join(proc.stderr.split()[-40:])}")
        if sampler.error is not None:
            raise RuntimeError(f"{name}: the GPU readings stopped: {sampler.error}")
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        compile_s = sum(row.get("compile_s", 0.0) for row in rows)
        rss_gb = max((row["system/rss_gb"] for row in rows if "system/rss_gb" in row), default=None)
        return {"variant": name, "overrides": VARIANTS[name], **run_rate(run_dir, warmup),
                "compile_s": round(compile_s, 1), **gpu_figures(sampler.samples, warmup, total),
                "host_rss_peak_gb": rss_gb}


def profile(name: str, fill_env_steps: int, updates: int) -> str:
    """Where one update's time goes for a variant, in-process: the sample and the update timed apart
    and together (synchronized), the host syncs they make (``torch.cuda.set_sync_debug_mode``,
    each with the rlkit line that made it) and torch.profiler's top operators, as Markdown."""
    import collections
    import traceback
    import warnings

    import rlkit
    from peers import dqn_with_replay

    _, envs, agent, _, rng = dqn_with_replay(BASE + VARIANTS[name], fill_env_steps // 16)
    envs.close()
    replay, learner, batch_size = agent.replay, agent.learner, agent.schedule.batch_size

    def timed(call, n: int) -> float:
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(n):
            call()
        torch.cuda.synchronize()
        return (time.perf_counter() - start) / n * 1e3

    batch = replay.sample(batch_size, rng)
    for _ in range(30):  # warm-up (and, with hardware.compile, the compile)
        learner.update(replay.sample(batch_size, rng), 10**6)
    host_ms = {"sample": timed(lambda: replay.sample(batch_size, rng), updates),
               "update (one batch, again)": timed(lambda: learner.update(batch, 10**6), updates),
               "sample + update": timed(lambda: learner.update(replay.sample(batch_size, rng), 10**6), updates)}
    syncs: collections.Counter = collections.Counter()

    package = str(Path(rlkit.__file__).resolve().parent) + "/"

    def record(message, category, filename, lineno, file=None, line=None):
        frames = [f for f in traceback.extract_stack()[:-1] if f.filename.startswith(package)]
        where = (f"{frames[-1].filename.removeprefix(package)}:{frames[-1].lineno}" if frames
                 else f"{filename}:{lineno}")
        syncs[f"{where}: {str(message).splitlines()[0][:80]}"] += 1

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for _ in range(10):
                learner.update(replay.sample(batch_size, rng), 10**6)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(20):
            learner.update(replay.sample(batch_size, rng), 10**6)
        torch.cuda.synchronize()
    averages = prof.key_averages()
    overrides = " ".join(VARIANTS[name]) or "the report's config"
    lines = [f"# Profile of the `{name}` variant ({overrides}), batch {batch_size}",
             "", "| part | ms per call |", "|---|---|"]
    lines += [f"| {part} | {ms:.2f} |" for part, ms in host_ms.items()]
    lines += ["", f"Host syncs in 10 sample + update: {sum(syncs.values())}", ""]
    lines += [f"- {count}x {where}" for where, count in syncs.most_common()]
    lines += ["", "## 20 sample + update, by host time", "", "```",
              averages.table(sort_by="self_cpu_time_total", row_limit=25), "```"]
    for key in ("self_device_time_total", "self_cuda_time_total"):
        try:
            table = averages.table(sort_by=key, row_limit=20)
        except (AttributeError, KeyError, ValueError):
            continue
        lines += ["", "## by device time", "", "```", table, "```"]
        break
    return "\n".join(lines) + "\n"


def measured_at(row: dict) -> str:
    measured = row.get("measured") or {}
    return f"{measured.get('commit', '?')}, {measured.get('date', '?')}"


def commit_here() -> str:
    """The checkout's short commit, or unknown where it is not a git checkout (a lent GPU's copy)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def markdown(results: dict) -> str:
    machine = results["machine"]
    lines = ["# The report's Boxing config on a GPU (make bench-gpu)", "",
             f"Machine: {machine['gpu']}, torch {machine['torch']}, {machine['date']}. `python -m rlkit "
             "experiment=boxing_report` (batch 1024, one update per env step, 16 envs, 600k replay), "
             f"{results['warmup_env_steps']} warm-up env steps, then a window to {results['total_env_steps']}; "
             "env steps per second over the window, the GPU's utilization (median of nvidia-smi samples in the "
             "window), its peak memory in use (CUDA context included) and the host's peak RSS. Command: "
             f"`{results['command']}`." + (f" {results['note']}" if results.get("note") else ""), "",
             "| variant | overrides | env steps/s | compile s | GPU utilization | GPU memory peak | host RSS peak "
             "| measured |", "|---|---|---|---|---|---|---|---|"]
    for row in results["rows"]:
        overrides = " ".join(f"`{o}`" for o in row["overrides"]) or "(the report's)"
        if "error" in row:
            error = row["error"].replace("|", "\\|")
            lines.append(f"| {row['variant']} | {overrides} | failed: {error} | | | | | {measured_at(row)} |")
            continue
        utilization = "-" if row["gpu_utilization_pct"] is None else f"{row['gpu_utilization_pct']:.0f}%"
        memory = "-" if row["gpu_memory_peak_mib"] is None else f"{row['gpu_memory_peak_mib'] / 1024:.1f} GiB"
        rss = "-" if row["host_rss_peak_gb"] is None else f"{row['host_rss_peak_gb']:.1f} GB"
        lines.append(f"| {row['variant']} | {overrides} | {row['sps']:.1f} | {row['compile_s']:.1f} | "
                     f"{utilization} | {memory} | {rss} | {measured_at(row)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    # the defaults keep a variant near a minute; all ten outlast one call of a lent GPU's short time, so
    # name --variants there (the host-memory ones are the slow ones: benchmarks/results/gpu.md)
    parser.add_argument("--warmup", type=int, default=3_000, help="env steps of random actions before learning")
    parser.add_argument("--window", type=int, default=2_400,
                        help="env steps run after the warm-up; the rate is taken from the first training row past "
                             "the warm-up to the last (--window minus one --interval)")
    parser.add_argument("--interval", type=int, default=400, help="env steps between training rows")
    parser.add_argument("--profile", type=int, metavar="UPDATES", default=0,
                        help="instead: time and profile UPDATES updates of each variant in-process "
                             "(benchmarks/results/gpu_profile_<variant>.md), the replay holding --warmup env steps")
    parser.add_argument("--variant-timeout", type=float, default=150.0, help="seconds before a variant is cut")
    parser.add_argument("--keep-others", action="store_true",
                        help="keep the previous gpu.json's rows of the variants not run this time")
    parser.add_argument("--commit", default=None, help="the commit measured (default: git's HEAD here)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"bench-gpu needs a CUDA GPU: torch {torch.__version__} sees none (torch.cuda.is_available() "
              "is False). Nothing was written.", file=sys.stderr)
        sys.exit(2)
    if shutil.which("nvidia-smi") is None:
        print("bench-gpu reads the GPU's utilization and memory with nvidia-smi, which is not on the PATH. "
              "Nothing was written.", file=sys.stderr)
        sys.exit(2)
    if args.profile:
        RESULTS.mkdir(parents=True, exist_ok=True)
        for name in args.variants:
            text = profile(name, args.warmup, args.profile)
            (RESULTS / f"gpu_profile_{name}.md").write_text(text)
            print(text, flush=True)
        return
    total = args.warmup + args.window
    results = {"machine": {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
                           "date": time.strftime("%Y-%m-%d %H:%M")},
               "command": " ".join(["python", "benchmarks/gpu.py", *sys.argv[1:]]),
               "warmup_env_steps": args.warmup, "total_env_steps": total, "rows": []}
    measured = {"commit": args.commit or commit_here(), "date": results["machine"]["date"]}
    kept = []
    if args.keep_others and (RESULTS / "gpu.json").is_file():
        previous = json.loads((RESULTS / "gpu.json").read_text())
        if (previous["warmup_env_steps"], previous["total_env_steps"]) != (args.warmup, total):
            sys.exit(f"--keep-others: the previous rows measured {previous['warmup_env_steps']} warm-up and "
                     f"{previous['total_env_steps']} total env steps, not {args.warmup} and {total}")
        kept = [row for row in previous["rows"] if row["variant"] not in args.variants]
    for name in args.variants:
        try:
            row = measure(name, total, args.warmup, args.interval, args.variant_timeout)
        except subprocess.TimeoutExpired:
            row = {"variant": name, "overrides": VARIANTS[name], "error": f"cut after {args.variant_timeout:.0f} s"}
        except Exception as err:  # a variant that breaks is a row: the next ones still run
            message = str(err) if isinstance(err, RuntimeError) else f"{type(err).__name__}: {err}"
            row = {"variant": name, "overrides": VARIANTS[name], "error": message}
        row["measured"] = measured
        results["rows"].append(row)
        print(row, flush=True)
        written = {**results, "rows": results["rows"] + kept}
        write_results("gpu", written, markdown(written))
    sys.exit(1 if any("error" in row for row in results["rows"]) else 0)


if __name__ == "__main__":
    main()
