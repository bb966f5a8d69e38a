"""Env-only throughput of a MuJoCo task: one plain gymnasium env vs SyncVectorEnv vs AsyncVectorEnv.

Random actions (uniform in the bounds), so Hopper falls and resets every ~20 steps as early in
training. Prints a table and writes benchmarks/results/mujoco_throughput.json. Env steps/s count
agent steps summed over envs; the rlkit rows go through ``build_gym_env`` (NEXT_STEP autoreset,
float32 obs, action clipping), the "single" row steps ``gym.make(id)`` directly with manual resets.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rlkit.envs.gym import GymEnvConfig  # noqa: E402
from rlkit.envs.gym import build_gym_env  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def single_env_rate(gym_id: str, seconds: float) -> float:
    env = gym.make(gym_id)
    low, high = env.action_space.low, env.action_space.high
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(rng.uniform(low, high).astype(np.float32))
        steps += 1
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def vector_env_rate(gym_id: str, backend: str, num_envs: int, seconds: float) -> float:
    env = build_gym_env(GymEnvConfig(id=gym_id), num_envs, backend, 1)
    low, high = env.spec.action_low, env.spec.action_high
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.step(rng.uniform(low, high, size=(num_envs, *env.spec.action_shape)).astype(np.float32))
        steps += num_envs
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gym-id", default="Hopper-v5")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    rows = [{"backend": "single (gym.make)", "num_envs": 1,
             "env_steps_per_s": single_env_rate(args.gym_id, args.seconds)}]
    for num_envs in args.num_envs:
        for backend in ("gymnasium_sync", "gymnasium_async"):
            rows.append({"backend": backend, "num_envs": num_envs,
                         "env_steps_per_s": vector_env_rate(args.gym_id, backend, num_envs, args.seconds)})
    print(f"{args.gym_id}, random actions, {os.cpu_count()} CPUs ({platform.processor() or platform.machine()})")
    print(f"{'backend':<20} {'envs':>4} {'env steps/s':>12}")
    for row in rows:
        print(f"{row['backend']:<20} {row['num_envs']:>4} {row['env_steps_per_s']:>12,.0f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {"gym_id": args.gym_id, "cpus": os.cpu_count(), "seconds_per_row": args.seconds, "rows": rows}
    (RESULTS / "mujoco_throughput.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
