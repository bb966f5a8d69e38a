"""The on-policy loop: collect a rollout, learn from it, log, evaluate, save. Orchestration only.

Per rollout (``rollout_transitions / E`` vector steps of E envs):
  1. each vector step: act on the normalized obs (sample, log-prob, value); step the envs (they
     clip the action); scale the reward; store the row (the NEXT_STEP reset row of a finished
     sub-env is stored with valid=False: it is no transition); track raw episode returns
  2. the learner takes the rollout and the value of the obs after it: GAE, epochs x minibatches
  3. on their intervals: log a metrics row, run evaluation episodes, write a checkpoint
Logging, evaluation, checkpoints and stop requests happen between rollouts, so every checkpoint
sits on a rollout boundary and a resumed run starts a fresh rollout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rlkit import seeding
from rlkit.algos.dqn.learner import NonFiniteError
from rlkit.algos.ppo.actor import PPOActor
from rlkit.algos.ppo.learner import PPOLearner
from rlkit.buffers.rollout import RolloutBuffer
from rlkit.config import OnPolicySchedule
from rlkit.envs.base import VecEnv
from rlkit.health import HealthTracker
from rlkit.loops.episodes import EpisodeTracker, run_episodes
from rlkit.loops.off_policy import EnvFailure
from rlkit.loops.run_outputs import RunOutputs, StopRequest
from rlkit.normalizers import RewardScaler
from rlkit.schedules import next_periodic_env_steps


@dataclass
class OnPolicyCounters:
    env_step: int = 0  # transitions taken, summed over envs (reset steps excluded)
    evaluations: int = 0
    last_eval_env_step: int = -1
    next_log_env_step: int = 0
    next_eval_env_step: int = 0
    next_save_env_step: int = 0
    env_steps_since_log: int = 0


@dataclass
class OnPolicyParts:
    envs: VecEnv
    eval_envs: VecEnv
    buffer: RolloutBuffer
    learner: PPOLearner
    actor: PPOActor  # holds the observation normalizer
    reward_scaler: RewardScaler | None
    schedule: OnPolicySchedule
    seed: int
    health: HealthTracker


def train_on_policy(parts: OnPolicyParts, out: RunOutputs, resume_state: dict | None = None) -> dict:
    sched = parts.schedule
    num_envs = parts.envs.num_envs
    counters = OnPolicyCounters(**next_periodic_env_steps(0, sched))
    tracker = EpisodeTracker(num_envs)
    env_seed = seeding.derive_seed(parts.seed, "train_env")
    if resume_state is not None:  # simulator state is not saved: envs restart at a rollout boundary
        saved = resume_state["counters"]  # intervals may have changed: they apply from here
        counters = OnPolicyCounters(**{**saved, **next_periodic_env_steps(saved["env_step"], sched)})
        parts.learner.load_state_dict(resume_state["learner"])
        parts.actor.load_state_dict(resume_state["actor"])
        if parts.reward_scaler is not None:
            parts.reward_scaler.load_state_dict(resume_state["reward_scaler"])
        tracker.load_state_dict(resume_state["episodes"])
        if "health" in resume_state:
            parts.health.load_state_dict(resume_state["health"])
        seeding.set_torch_rng_state(resume_state["torch_rng"])
        env_seed = seeding.derive_seed(parts.seed, f"train_env_resume_{counters.env_step}")
    obs = parts.actor.observe(parts.envs.reset(seed=env_seed))  # [E, *obs_shape] normalized
    is_reset_step = np.zeros(num_envs, dtype=bool)
    last_eval: dict = {}
    last_eval_returns: list[float] = []
    stop = StopRequest()
    stop.install()

    def evaluate() -> dict[str, float]:
        seed = seeding.derive_seed(parts.seed, f"eval_env_{counters.evaluations}")
        returns = run_episodes(parts.eval_envs, parts.actor.act_eval, sched.eval_episodes, seed)
        counters.evaluations += 1
        counters.last_eval_env_step = counters.env_step
        last_eval_returns[:] = returns.tolist()
        last_eval.update({"eval/return_mean": float(returns.mean()), "eval/return_std": float(returns.std()),
                          "eval/return_median": float(np.median(returns)), "eval/episodes": len(returns)})
        return dict(last_eval)

    def target_reached() -> bool:
        target = sched.stop_at_eval_return
        return target is not None and last_eval.get("eval/return_mean", -np.inf) >= target

    def save() -> None:
        state = {"counters": vars(counters).copy(), "learner": parts.learner.state_dict(),
                 "actor": parts.actor.state_dict(), "episodes": tracker.state_dict(),
                 "reward_scaler": parts.reward_scaler.state_dict() if parts.reward_scaler else None,
                 "torch_rng": seeding.torch_rng_state(), "health": parts.health.state_dict()}
        out.save(counters.env_step, state, None)

    try:
        while counters.env_step < sched.total_env_steps and not stop.requested and not target_reached():
            rollout_start_env_step = counters.env_step
            for _ in range(parts.buffer.num_steps):
                step = parts.actor.act(obs)
                try:
                    result = parts.envs.step(parts.actor.env_actions(step.actions))
                except Exception as err:  # a dead env worker: save the learner as of the rollout's start
                    counters.env_step = rollout_start_env_step
                    save()
                    raise EnvFailure(f"the training envs failed at env step {counters.env_step:,}"
                                     f" ({type(err).__name__}: {err}); a checkpoint was saved") from err
                valid = ~is_reset_step
                done = result.terminated | result.truncated
                reward = parts.reward_scaler(result.reward, done, valid) if parts.reward_scaler else result.reward
                parts.buffer.add(obs, step.actions, step.log_probs, step.values, reward, result.terminated,
                                 result.truncated, valid)
                tracker.step(result.reward, done, is_reset_step)
                new_steps = int(valid.sum())
                counters.env_step += new_steps
                counters.env_steps_since_log += new_steps
                is_reset_step = done & valid
                obs = parts.actor.observe(result.obs)
            batch = parts.buffer.batch(parts.actor.value(obs), torch.as_tensor(obs))  # obs: after the rollout
            parts.learner.update(batch, rollout_start_env_step)
            if counters.env_step >= counters.next_eval_env_step:
                out.log(counters.env_step, evaluate())
                while counters.next_eval_env_step <= counters.env_step:
                    counters.next_eval_env_step += sched.eval_interval_env_steps
            if counters.env_step >= counters.next_log_env_step:
                row = {**parts.learner.pop_metrics(), **tracker.summary(), **out.system_metrics(),
                       "sps": counters.env_steps_since_log / max(out.seconds_since_log(), 1e-9)}
                out.log_training_row(counters.env_step, row, parts.health, stop)
                counters.env_steps_since_log = 0
                while counters.next_log_env_step <= counters.env_step:
                    counters.next_log_env_step += sched.log_interval_env_steps
            if counters.env_step >= counters.next_save_env_step:
                save()
                while counters.next_save_env_step <= counters.env_step:
                    counters.next_save_env_step += sched.save_interval_env_steps
            out.progress(counters.env_step)
    except NonFiniteError as err:  # the learner saw the rollout's first step; report the step reached
        out.write_diagnostic("nonfinite_diagnostic.json", {
            "metric": err.metric, "env_step": counters.env_step, "rollout_start_env_step": err.env_step,
            "details": err.details, "recent_grad_norms": list(parts.learner.recent_grad_norms),
            "weights_finite": parts.learner.weights_finite()})
        raise NonFiniteError(err.metric, counters.env_step, err.details) from None
    finally:
        stop.restore()
    if stop.requested:
        save()
        return {"stopped_by": stop.signal_name, "env_step": counters.env_step}
    if counters.last_eval_env_step != counters.env_step or not last_eval:  # else the last rollout was evaluated
        out.log(counters.env_step, evaluate())
    out.log(counters.env_step, {**tracker.summary(), **({"target_reached": True} if target_reached() else {})})
    save()
    out.progress(counters.env_step, force=True)
    return {"env_step": counters.env_step, **last_eval, **tracker.summary(), "eval_returns": last_eval_returns}
