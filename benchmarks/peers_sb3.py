"""The Stable-Baselines3 side of `make bench-peers`. Runs in benchmarks/.venv-sb3 (never imports rlkit).

One case per call; prints one JSON line: env steps per second over the window after the warm-up,
measured the way benchmarks/peers.py measures rlkit (the clock read at every ``interval`` env steps,
the rate from the first reading after the first update to the last).

The settings mirror benchmarks/peers.py's CASES (the same numbers are passed on the command line):
- dqn_pixels: ALE/Boxing-v5 at frameskip 1 under SB3's AtariWrapper (frame skip 4 with a max over
  the last two frames, 84x84 grayscale, reward clipping, no no-op starts, no life loss as terminal)
  with ALE's own sticky actions 0.25 per frame, 4-frame stack; CnnPolicy (the Nature CNN, /255 in
  the net); vanilla DQN target (SB3 has no Double DQN), hard target copies.
- dqn_ram: ALE/Boxing-v5 with obs_type=ram (ALE's frame skip 4 and sticky 0.25); MlpPolicy with
  two hidden layers of 576.
- ppo_hopper: Hopper-v5 under VecNormalize (observations and rewards, as rlkit's PPO), separate
  2x64 tanh actor and critic, initial log-std -0.5, value clipping 0.2.
- sac_hopper: Hopper-v5, 1 env; 256x256 ReLU policy and twin critics, tuned temperature from 1.0
  toward -|A|, one gradient step per env step after ``--warmup`` random env steps, Polyak 0.005.
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import torch

from stable_baselines3 import DQN, PPO, SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack, VecNormalize


class StepClock(BaseCallback):
    """The wall clock at every ``interval`` env steps, or at every rollout's start (PPO)."""

    def __init__(self, interval: int, per_rollout: bool) -> None:
        super().__init__()
        self.interval, self.per_rollout = interval, per_rollout
        self.readings: list[tuple[int, float]] = []

    def _on_step(self) -> bool:
        if not self.per_rollout and self.num_timesteps % self.interval == 0:
            self.readings.append((self.num_timesteps, time.perf_counter()))
        return True

    def _on_rollout_start(self) -> None:
        # PPO: a rollout starts after the previous one's update, where rlkit writes its row
        if self.per_rollout:
            self.readings.append((self.num_timesteps, time.perf_counter()))


def atari_env(obs_type: str):
    import ale_py
    from stable_baselines3.common.atari_wrappers import AtariWrapper

    gym.register_envs(ale_py)

    def make():
        if obs_type == "ram":
            return gym.make("ALE/Boxing-v5", obs_type="ram", repeat_action_probability=0.25)
        env = gym.make("ALE/Boxing-v5", frameskip=1, repeat_action_probability=0.25)
        return AtariWrapper(env, noop_max=0, frame_skip=4, screen_size=84, terminal_on_life_loss=False,
                            clip_reward=True)

    env = DummyVecEnv([make])
    return VecFrameStack(env, 4) if obs_type == "pixels" else env


def run_dqn(args: argparse.Namespace, clock: StepClock) -> None:
    pixels = args.case == "dqn_pixels"
    env = atari_env("pixels" if pixels else "ram")
    policy_kwargs = {} if pixels else {"net_arch": [576, 576]}
    model = DQN("CnnPolicy" if pixels else "MlpPolicy", env, learning_rate=args.lr, buffer_size=args.buffer,
                learning_starts=args.warmup, batch_size=args.batch, tau=1.0, gamma=0.99,
                train_freq=args.train_freq, gradient_steps=1, target_update_interval=args.target_period,
                exploration_fraction=args.warmup / args.total, exploration_initial_eps=1.0,
                exploration_final_eps=0.01, max_grad_norm=10.0, policy_kwargs=policy_kwargs, seed=args.seed,
                device="cpu", verbose=0)
    model.learn(total_timesteps=args.total, callback=clock, progress_bar=False)


def run_ppo(args: argparse.Namespace, clock: StepClock) -> None:
    env = VecNormalize(DummyVecEnv([lambda: gym.make("Hopper-v5")]), gamma=0.99)
    policy_kwargs = {"net_arch": {"pi": [64, 64], "vf": [64, 64]}, "activation_fn": torch.nn.Tanh,
                     "log_std_init": -0.5}
    model = PPO("MlpPolicy", env, learning_rate=3e-4, n_steps=2048, batch_size=64, n_epochs=10, gamma=0.99,
                gae_lambda=0.95, clip_range=0.2, clip_range_vf=0.2, ent_coef=0.0, vf_coef=0.5,
                max_grad_norm=0.5, policy_kwargs=policy_kwargs, seed=args.seed, device="cpu", verbose=0)
    model.learn(total_timesteps=args.total, callback=clock, progress_bar=False)


def run_sac(args: argparse.Namespace, clock: StepClock) -> None:
    env = DummyVecEnv([lambda: gym.make("Hopper-v5")])
    model = SAC("MlpPolicy", env, learning_rate=args.lr, buffer_size=args.buffer, learning_starts=args.warmup,
                batch_size=args.batch, tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1, ent_coef="auto_1.0",
                target_update_interval=1, policy_kwargs={"net_arch": [256, 256]}, seed=args.seed, device="cpu",
                verbose=0)
    model.learn(total_timesteps=args.total, callback=clock, progress_bar=False)


RUNNERS = {"dqn_pixels": run_dqn, "dqn_ram": run_dqn, "ppo_hopper": run_ppo, "sac_hopper": run_sac}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("case", choices=sorted(RUNNERS))
    parser.add_argument("--total", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=0, help="DQN, SAC: learning_starts (DQN: and the epsilon decay)")
    parser.add_argument("--interval", type=int, required=True, help="env steps between clock readings")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--train-freq", type=int, default=4)
    parser.add_argument("--buffer", type=int, default=100_000)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--target-period", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    clock = StepClock(args.interval, per_rollout=args.case == "ppo_hopper")
    RUNNERS[args.case](args, clock)
    end = (args.total, time.perf_counter())
    start = next(r for r in clock.readings if r[0] > args.warmup)
    sps = (end[0] - start[0]) / (end[1] - start[1])
    print(json.dumps({"case": args.case, "sps": round(sps, 2), "window_env_steps": end[0] - start[0],
                      "torch_threads": torch.get_num_threads(), "numpy": np.__version__}))


if __name__ == "__main__":
    main()
