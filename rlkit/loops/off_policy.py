"""The off-policy loop: act, step, store, update, log, evaluate, save. Orchestration only.

Per vector step (E envs):
  1. act: uniform random until ``warmup_env_steps``, then the actor's exploration
  2. step the envs; the NEXT_STEP reset step of a finished sub-env is not a transition
  3. store (training reward clipped if configured), track raw episode returns
  4. earn ``updates_per_env_step`` updates per env step; spend whole ones on sampled batches
  5. on their intervals: log a metrics row, run evaluation episodes, write a checkpoint
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from rlkit import seeding
from rlkit.algos.dqn.actor import ValueActor
from rlkit.algos.dqn.learner import NonFiniteError, ValueLearner
from rlkit.buffers import FrameReplay
from rlkit.config import OffPolicySchedule
from rlkit.envs.base import VecEnv
from rlkit.health import HealthTracker
from rlkit.loops.episodes import EpisodeTracker, run_episodes
from rlkit.loops.run_outputs import RunOutputs, StopRequest
from rlkit.schedules import next_periodic_env_steps


class EnvFailure(RuntimeError):
    """The envs raised; the loop saved a resumable checkpoint first."""


@dataclass
class OffPolicyCounters:
    env_step: int = 0  # transitions taken, summed over envs (reset steps excluded)
    update_credit: float = 0.0  # earned, not yet spent, gradient updates
    evaluations: int = 0
    last_eval_env_step: int = -1
    next_log_env_step: int = 0
    next_eval_env_step: int = 0
    next_save_env_step: int = 0
    samples_since_log: int = field(default=0)
    env_steps_since_log: int = field(default=0)


@dataclass
class OffPolicyParts:
    envs: VecEnv
    eval_envs: VecEnv
    buffer: FrameReplay
    learner: ValueLearner
    actor: ValueActor
    schedule: OffPolicySchedule
    reward_clip: float | None
    eval_epsilon: float
    seed: int
    health: HealthTracker


def _checkpoint_state(parts: OffPolicyParts, counters: OffPolicyCounters, tracker: EpisodeTracker,
                      replay_rng: np.random.Generator, eval_rng: np.random.Generator) -> dict:
    return {"counters": vars(counters).copy(), "learner": parts.learner.state_dict(),
            "actor": parts.actor.state_dict(), "episodes": tracker.state_dict(),
            "replay_rng": replay_rng.bit_generator.state, "eval_rng": eval_rng.bit_generator.state,
            "torch_rng": seeding.torch_rng_state(), "health": parts.health.state_dict()}


def train_off_policy(parts: OffPolicyParts, out: RunOutputs, resume_state: dict | None = None,
                     resume_replay: dict | None = None) -> dict[str, float]:
    sched = parts.schedule
    num_envs = parts.envs.num_envs
    counters = OffPolicyCounters(**next_periodic_env_steps(0, sched))
    tracker = EpisodeTracker(num_envs)
    replay_rng = np.random.default_rng(seeding.derive_seed(parts.seed, "replay"))
    eval_rng = np.random.default_rng(seeding.derive_seed(parts.seed, "eval_actor"))
    env_seed = seeding.derive_seed(parts.seed, "train_env")
    if resume_state is not None:  # emulator state is not saved: envs restart, the buffer marks the seam
        saved = resume_state["counters"]  # intervals may have changed: they apply from here
        counters = OffPolicyCounters(**{**saved, **next_periodic_env_steps(saved["env_step"], sched)})
        parts.learner.load_state_dict(resume_state["learner"])
        parts.actor.load_state_dict(resume_state["actor"])
        tracker.load_state_dict(resume_state["episodes"])
        if "health" in resume_state:
            parts.health.load_state_dict(resume_state["health"])
        replay_rng.bit_generator.state = resume_state["replay_rng"]
        eval_rng.bit_generator.state = resume_state["eval_rng"]
        seeding.set_torch_rng_state(resume_state["torch_rng"])
        if resume_replay is not None:
            parts.buffer.load_state_dict(resume_replay)
        env_seed = seeding.derive_seed(parts.seed, f"train_env_resume_{counters.env_step}")
    obs = parts.envs.reset(seed=env_seed)
    parts.buffer.start(obs)
    is_reset_step = np.zeros(num_envs, dtype=bool)
    last_eval_returns: list[float] = []
    stop = StopRequest()
    stop.install()

    def evaluate() -> dict[str, float]:
        seed = seeding.derive_seed(parts.seed, f"eval_env_{counters.evaluations}")
        returns = run_episodes(parts.eval_envs, lambda o: parts.actor.act_eval(o, parts.eval_epsilon, eval_rng),
                               sched.eval_episodes, seed)
        counters.evaluations += 1
        counters.last_eval_env_step = counters.env_step
        last_eval_returns[:] = returns.tolist()
        return {"eval/return_mean": float(returns.mean()), "eval/return_std": float(returns.std()),
                "eval/return_median": float(np.median(returns)), "eval/episodes": len(returns)}

    def save() -> None:
        state = _checkpoint_state(parts, counters, tracker, replay_rng, eval_rng)
        out.save(counters.env_step, state, parts.buffer.state_dict())

    try:
        while counters.env_step < sched.total_env_steps and not stop.requested:
            warm = counters.env_step >= sched.warmup_env_steps
            actions = parts.actor.act(obs, counters.env_step) if warm else parts.actor.random(num_envs)
            try:
                result = parts.envs.step(actions)
            except Exception as err:  # a dead env worker: keep what was learned, then stop
                save()
                raise EnvFailure(f"the training envs failed at env step {counters.env_step:,}"
                                 f" ({type(err).__name__}: {err}); a checkpoint was saved") from err
            reward = result.reward if parts.reward_clip is None else np.clip(result.reward, -parts.reward_clip,
                                                                            parts.reward_clip)
            parts.buffer.add(actions, reward, result.terminated, result.truncated, result.obs, is_reset_step)
            tracker.step(result.reward, result.terminated | result.truncated, is_reset_step)
            new_steps = int(num_envs - is_reset_step.sum())
            is_reset_step = result.terminated | result.truncated
            obs = result.obs
            counters.env_step += new_steps
            counters.env_steps_since_log += new_steps
            if counters.env_step >= sched.warmup_env_steps:
                counters.update_credit += new_steps * sched.updates_per_env_step
                while counters.update_credit >= 1.0:
                    parts.learner.update(parts.buffer.sample(sched.batch_size, replay_rng), counters.env_step)
                    counters.update_credit -= 1.0
                    counters.samples_since_log += sched.batch_size
            if counters.env_step >= counters.next_eval_env_step:
                out.log(counters.env_step, evaluate())
                counters.next_eval_env_step += sched.eval_interval_env_steps
            if counters.env_step >= counters.next_log_env_step:
                row = {**parts.learner.pop_metrics(), **tracker.summary(), **out.system_metrics(),
                       **parts.actor.exploration_value(counters.env_step),
                       "updates": parts.learner.num_updates, "buffer_fill": len(parts.buffer),
                       "replay_ratio": counters.samples_since_log / max(counters.env_steps_since_log, 1),
                       "sps": counters.env_steps_since_log / max(out.seconds_since_log(), 1e-9)}
                out.log_training_row(counters.env_step, row, parts.health, stop)
                counters.samples_since_log = counters.env_steps_since_log = 0
                counters.next_log_env_step += sched.log_interval_env_steps
            if counters.env_step >= counters.next_save_env_step:
                save()
                counters.next_save_env_step += sched.save_interval_env_steps
            out.progress(counters.env_step)
    except NonFiniteError as err:
        out.write_diagnostic("nonfinite_diagnostic.json", {
            "metric": err.metric, "env_step": err.env_step, "details": err.details,
            "recent_grad_norms": [float(g) for g in parts.learner.metrics.grad_norms[-50:]],
            "weights_finite": parts.learner.weights_finite(),
        })
        raise
    finally:
        stop.restore()
    if stop.requested:
        save()
        return {"stopped_by": stop.signal_name, "env_step": counters.env_step}
    if counters.last_eval_env_step == counters.env_step:  # the interval's evaluation was the last step
        final = {k: v for k, v in out.last_row.items() if k.startswith("eval/")}
    else:
        final = evaluate()
        out.log(counters.env_step, final)
    save()
    out.progress(counters.env_step, force=True)
    return {"env_step": counters.env_step, **final, **tracker.summary(), "eval_returns": last_eval_returns}
