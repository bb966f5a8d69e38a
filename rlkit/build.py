"""Typed config -> components, via the registries. Every user-facing refusal here is a
ConfigValueError naming the key, the value and what is allowed, raised before any file is written."""

from __future__ import annotations

import psutil
import torch

from rlkit.algos import ALGOS
from rlkit.algos.registry_entry import AlgoEntry
from rlkit.buffers import FrameReplay
from rlkit.buffers.rollout import RolloutBuffer
from rlkit.config import ConfigValueError, OffPolicySchedule, OnPolicySchedule, RootConfig
from rlkit.envs import ENVS, EnvSpec, VecEnv
from rlkit.health import HealthLimits, HealthTracker
from rlkit.loops.off_policy import OffPolicyParts
from rlkit.loops.on_policy import OnPolicyParts
from rlkit import seeding

# Algorithms register themselves on import.
import rlkit.algos.dqn  # noqa: F401,E402
import rlkit.algos.iqn  # noqa: F401,E402
import rlkit.algos.ppo  # noqa: F401,E402

SCHEDULE_KINDS = {OffPolicySchedule: "off_policy", OnPolicySchedule: "on_policy"}
REPLAY_MEMORY_FRACTION = 0.8  # of the memory available at start


def algo_entry(run: RootConfig) -> AlgoEntry:
    entry = ALGOS.get(run.algo.name)
    kind = SCHEDULE_KINDS.get(type(run.schedule))
    if kind != entry.schedule_kind:
        raise ConfigValueError("schedule", type(run.schedule).__name__,
                               f"a {entry.schedule_kind} schedule for algo={run.algo.name}")
    return entry


def select_device(run: RootConfig) -> torch.device:
    torch.set_num_threads(run.hardware.torch_threads)
    if run.hardware.device == "cuda" and not torch.cuda.is_available():
        raise ConfigValueError("hardware.device", "cuda", "a device this machine has: torch.cuda.is_available()"
                               " is False here (use hardware=cpu, or install a CUDA build of torch)")
    return torch.device(run.hardware.device)


def build_envs(run: RootConfig, entry: AlgoEntry) -> tuple[VecEnv, VecEnv]:
    builder = ENVS.get(run.env.name)
    hw = run.hardware
    try:
        envs = builder(run.env, num_envs=hw.num_envs, backend=hw.env_backend, env_threads=hw.env_threads)
    except ValueError as err:
        raise ConfigValueError("hardware.env_backend", hw.env_backend, str(err)) from None
    spec = envs.spec
    wanted_discrete = entry.action_kind == "discrete"
    if spec.is_discrete != wanted_discrete:
        envs.close()
        have = "discrete" if spec.is_discrete else "continuous"
        raise ConfigValueError("algo.name", run.algo.name,
                               f"an algorithm for {have} actions ({spec.env_id} has {have} actions;"
                               f" algo={run.algo.name} needs {entry.action_kind})")
    eval_envs = builder(run.env, num_envs=hw.eval_num_envs, backend=hw.env_backend, env_threads=hw.env_threads)
    return envs, eval_envs


def replay_for(run: RootConfig, spec: EnvSpec, gamma: float, n_step: int) -> FrameReplay:
    """Checks the replay fits in available memory before allocating it; prints its size."""
    sched = run.schedule
    action_dtype = "int16" if spec.n_actions < 32768 else "int32"
    needed = FrameReplay.bytes_required(sched.replay_capacity_transitions, run.hardware.num_envs, spec.frame_shape,
                                        spec.frame_dtype, (), action_dtype)
    available = psutil.virtual_memory().available
    per_transition = needed / sched.replay_capacity_transitions
    print(f"replay buffer: {sched.replay_capacity_transitions:,} transitions x {per_transition:,.0f} B"
          f" = {needed / 2**30:.2f} GiB (available memory {available / 2**30:.2f} GiB)")
    if needed > REPLAY_MEMORY_FRACTION * available:
        raise ConfigValueError(
            "schedule.replay_capacity_transitions", sched.replay_capacity_transitions,
            f"a buffer that fits in {REPLAY_MEMORY_FRACTION:.0%} of available memory: it needs"
            f" {needed / 2**30:.2f} GiB, {available / 2**30:.2f} GiB are available"
            f" (at most {int(REPLAY_MEMORY_FRACTION * available / per_transition):,} transitions)")
    return FrameReplay(sched.replay_capacity_transitions, run.hardware.num_envs, spec.frame_shape, spec.frame_dtype,
                       spec.frame_stack, action_dtype=action_dtype, n_step=n_step, gamma=gamma)


def health_tracker(run: RootConfig) -> HealthTracker:
    health = run.health
    clip = run.algo.max_grad_norm if run.algo.name == "ppo" else run.algo.grad_clip_norm
    limits = HealthLimits.from_config(health, clip)
    return HealthTracker(limits, stop_hopeless=health.stop_hopeless,
                         judge_from_env_step=int(health.judge_after_fraction * run.schedule.total_env_steps))


def build_off_policy(run: RootConfig, entry: AlgoEntry, envs: VecEnv, eval_envs: VecEnv,
                     device: torch.device) -> OffPolicyParts:
    try:
        learner, actor = entry.build(run, envs.spec, device)
    except ValueError as err:
        raise ConfigValueError("network.name", run.network.name, str(err)) from None
    buffer = replay_for(run, envs.spec, run.algo.gamma, run.algo.n_step)
    return OffPolicyParts(envs=envs, eval_envs=eval_envs, buffer=buffer, learner=learner, actor=actor,
                          schedule=run.schedule, reward_clip=run.env.reward_clip,
                          eval_epsilon=run.algo.eval_epsilon, seed=run.seed, health=health_tracker(run))


def build_on_policy(run: RootConfig, entry: AlgoEntry, envs: VecEnv, eval_envs: VecEnv,
                    device: torch.device) -> OnPolicyParts:
    """Each env steps rollout_transitions / num_envs times per rollout: it must divide evenly."""
    sched, num_envs = run.schedule, run.hardware.num_envs
    if sched.rollout_transitions % num_envs != 0:
        raise ConfigValueError("schedule.rollout_transitions", sched.rollout_transitions,
                               f"a multiple of hardware.num_envs ({num_envs}): each env steps"
                               " rollout_transitions / num_envs times per rollout")
    try:
        learner, actor, reward_scaler = entry.build(run, envs.spec, device)
    except ValueError as err:
        raise ConfigValueError("network.name", run.network.name, str(err)) from None
    buffer = RolloutBuffer(sched.rollout_transitions // num_envs, num_envs, envs.spec.obs_shape,
                           envs.spec.action_shape, device)
    return OnPolicyParts(envs=envs, eval_envs=eval_envs, buffer=buffer, learner=learner, actor=actor,
                         reward_scaler=reward_scaler, schedule=sched, seed=run.seed, health=health_tracker(run))


def random_policy_returns(eval_envs: VecEnv, num_episodes: int, seed: int):
    from rlkit.loops.episodes import run_episodes
    import numpy as np

    rng = np.random.default_rng(seeding.derive_seed(seed, "random_baseline"))
    spec = eval_envs.spec
    if spec.is_discrete:
        act = lambda obs: rng.integers(spec.n_actions, size=len(obs)).astype(np.int64)  # noqa: E731
    else:  # uniform over the action box
        act = lambda obs: rng.uniform(spec.action_low, spec.action_high, size=(len(obs), *spec.action_shape)  # noqa: E731
                                      ).astype(np.float32)
    return run_episodes(eval_envs, act, num_episodes, seeding.derive_seed(seed, "random_baseline_env"))
