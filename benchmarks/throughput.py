"""make bench: env-only throughput per backend, update cost per algorithm, training SPS on Boxing.

Writes benchmarks/results/throughput.json and throughput.md. Numbers depend on the machine; the
files record its CPU, the date and torch's thread count. The process is set up as a run sets up its
host (``--torch-threads``, as ``hardware.torch_threads``: auto by default, as in a run; the wide
layers' kernel, denormal flushing and the allocator at their defaults), and the training rows are
runs at those settings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import cpu_description  # noqa: E402
from rlkit.algos.dqn.learner import DQNLoss, QNetwork  # noqa: E402
from rlkit.algos.value_based.learner import ValueLearner  # noqa: E402
from rlkit.algos.iqn.learner import IQNLoss  # noqa: E402
from rlkit.buffers import FrameReplay  # noqa: E402
from rlkit.build import configure_host  # noqa: E402
from rlkit.config import HardwareConfig  # noqa: E402
from rlkit.envs.atari import AtariEnvConfig  # noqa: E402
from rlkit.networks.nature_cnn import NatureCNNConfig  # noqa: E402
from rlkit.envs import ENVS  # noqa: E402
from rlkit.networks import NETWORKS  # noqa: E402
from rlkit.networks.quantile import ImplicitQuantileNetwork  # noqa: E402
from rlkit.schedules import constant  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def env_throughput(backend: str, obs_type: str, num_envs: int, seconds: float) -> float:
    env = ENVS.get("atari")(AtariEnvConfig(game="boxing", obs_type=obs_type, frame_stack=4 if obs_type == "pixels" else 1),
                            num_envs=num_envs, backend=backend, env_threads=2)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.step(rng.integers(env.spec.n_actions, size=num_envs).astype(np.int64))
        steps += num_envs
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def update_seconds(algo: str, batch_size: int, taus: tuple[int, int, int] = (8, 8, 8), repeats: int = 8) -> float:
    torso = NETWORKS.get("nature_cnn")(NatureCNNConfig(), (4, 84, 84), np.uint8)
    if algo == "dqn":
        net, loss = QNetwork(torso, 18), DQNLoss(True, "max", "huber", None)
    else:
        net = ImplicitQuantileNetwork(torso, 18)
        loss = IQNLoss(taus[0], taus[1], taus[2], 1.0, True, "max", None, seed=0)
    learner = ValueLearner(net, loss, lr_schedule=constant(1e-4), temperature_schedule=constant(1.0), adam_eps=1e-4,
                           grad_clip_norm=10.0, target_update="soft", polyak_tau=0.005,
                           target_update_period_env_steps=1000, device=torch.device("cpu"), amp=False)
    replay = FrameReplay(4096, 1, (84, 84), np.uint8, 4)
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 255, size=(1, 4, 84, 84), dtype=np.uint8)
    replay.start(obs)
    for _ in range(600):
        obs = rng.integers(0, 255, size=(1, 4, 84, 84), dtype=np.uint8)
        replay.add(np.array([1]), np.array([0.0], np.float32), np.array([False]), np.array([False]), obs,
                   np.array([False]))
    batch = replay.sample(batch_size, rng)
    learner.update(batch, 0)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        learner.update(replay.sample(batch_size, rng), 0)
    return (time.perf_counter() - start) / repeats


def training_sps(overrides: list[str]) -> dict:
    """A short in-process training run; SPS over the training rows after the first update."""
    from tests.conftest import run_in_process
    from rlkit.logging import read_metrics

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        start = time.perf_counter()
        result = run_in_process(overrides + ["logger.progress_bar=false", "logger.wandb_mode=disabled"], run_dir)
        wall = time.perf_counter() - start
        rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if r.get("updates", 0) > 0]
    if result.get("exit_code", 0) != 0:
        raise RuntimeError(result["error"])
    first, last = rows[0], rows[-1]
    sps = (last["env_step"] - first["env_step"]) / (last["wall_time_s"] - first["wall_time_s"])
    return {"sps_after_warmup": round(sps, 1), "env_steps": result["env_step"], "wall_s": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env-seconds", type=float, default=4.0)
    parser.add_argument("--train-env-steps", type=int, default=6_000, help="per pixel run; RAM runs 3x")
    parser.add_argument("--torch-threads", default="auto",
                        help="as hardware.torch_threads: auto (a run's default: the cores available) or a count")
    args = parser.parse_args()
    try:
        hardware = HardwareConfig(torch_threads=args.torch_threads)
    except ValueError as error:
        parser.error(f"--torch-threads: {error}")
    configure_host(hardware)  # before any parallel torch op
    results: dict = {"machine": {"cpus": os.cpu_count(), "cpu": cpu_description(),
                                 "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
                                 "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M")}}
    env_rows = {}
    for backend, obs_type in (("ale_vector", "pixels"), ("gymnasium_sync", "pixels"), ("gymnasium_async", "pixels"),
                              ("gymnasium_sync", "ram")):
        env_rows[f"{backend}/{obs_type}"] = round(env_throughput(backend, obs_type, 16, args.env_seconds))
        print(f"env steps/s, 16 Boxing envs, {backend} {obs_type}: {env_rows[f'{backend}/{obs_type}']:,}", flush=True)
    results["env_steps_per_s_16_envs"] = env_rows
    updates = {}
    for algo, batch, taus in (("dqn", 32, None), ("dqn", 256, None), ("iqn", 32, (8, 8, 8)), ("iqn", 256, (8, 8, 8)),
                              ("iqn", 32, (64, 64, 32))):
        key = f"{algo}_batch{batch}" + (f"_N{taus[0]}_Np{taus[1]}_K{taus[2]}" if taus else "")
        updates[key] = round(update_seconds(algo, batch, taus or (8, 8, 8), repeats=4 if batch == 256 else 8), 4)
        print(f"update seconds {key}: {updates[key]}", flush=True)
    results["update_seconds_nature_cnn"] = updates
    replay = FrameReplay(100_000, 16, (84, 84), np.uint8, 4)
    results["replay_bytes_per_pixel_transition"] = round(replay.bytes_per_transition, 1)
    training = {}
    for name, overrides, steps in (("dqn_boxing_pixels_cpu_small_pixels", ["algo=dqn", "env=boxing"], args.train_env_steps),
                                   ("iqn_boxing_pixels_cpu_small_pixels", ["algo=iqn", "env=boxing"], args.train_env_steps),
                                   ("dqn_boxing_ram_cpu_small", ["algo=dqn", "env=boxing_ram"], 3 * args.train_env_steps)):
        training[name] = training_sps(overrides + [f"schedule.total_env_steps={steps}",
                                                   "schedule.warmup_env_steps=1000",
                                                   f"schedule.log_interval_env_steps={steps // 6}",
                                                   f"schedule.eval_interval_env_steps={10 * steps}",
                                                   "schedule.eval_episodes=1", "hardware.eval_num_envs=1",
                                                   "env.max_episode_frames=4000",
                                                   f"hardware.torch_threads={args.torch_threads}"])
        print(f"training {name}: {training[name]}", flush=True)
    results["training_cpu_small"] = training
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "throughput.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Throughput (make bench)", "", f"Machine: {results['machine']}", "",
             "| env backend (16 Boxing envs) | env steps/s |", "|---|---|"]
    lines += [f"| {k} | {v:,} |" for k, v in env_rows.items()]
    lines += ["", "| update (Nature CNN, CPU) | seconds |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in updates.items()]
    lines += ["", f"Replay: {results['replay_bytes_per_pixel_transition']} B per pixel transition", "",
              "| training (the env preset's CPU schedule) | env steps/s after warm-up | env steps | wall s |", "|---|---|---|---|"]
    lines += [f"| {k} | {v['sps_after_warmup']:.0f} | {v['env_steps']:,} | {v['wall_s']} |" for k, v in training.items()]
    (RESULTS / "throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
