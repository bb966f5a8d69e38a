"""The runner owns time for every algorithm: the env-step clock, evaluation, log rows, health,
checkpoints and resume, stop signals, env failures and non-finite stops.

An algorithm plugs in as an ``Agent`` (below); the runner never names one. Per ``train_step``
the agent steps the training envs once (value-based: one vector step and the updates it earned)
or many times (PPO: one rollout and its update) through ``TrainingEnvs``, which counts the
transitions and tracks raw episode returns. Between train steps, in this order:
  1. evaluation, every ``eval_interval_env_steps``
  2. a training log row (the agent's metrics, episode returns, health, system), every ``log_interval_env_steps``
  3. a checkpoint, every ``save_interval_env_steps``
  4. a stop: a signal, the health verdict, ``stop_at_eval_return``, or the budget
At the end: a final evaluation (unless the last train step was just evaluated), a summary row
and a checkpoint. A periodic point falls on the first multiple of its interval that the clock
reaches or passes, so a vector step of E envs or a rollout never skips one.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch

from rlkit import seeding
from rlkit.algos.common import NonFiniteError
from rlkit.config import RunSchedule
from rlkit.envs.base import VecEnv
from rlkit.episodes import EpisodeTracker, EpisodesStopped, run_episodes
from rlkit.eval_start import changed_leaves
from rlkit.health import HealthTracker
from rlkit.run_outputs import RunOutputs
from rlkit.stop import StopRequest
from rlkit.schedules import next_multiple, next_periodic_env_steps

CHECKPOINT_FORMAT = 2  # 2: the one-runner layout {"format", "counters", "agent", ...}


class EnvFailure(RuntimeError):
    """The training envs (or an evaluation) raised; the runner saved a resumable checkpoint first."""


class EnvStep(NamedTuple):
    """One vector step as an agent sees it."""

    obs: np.ndarray  # [E, *obs_shape] the obs after the step (a reset obs on a NEXT_STEP reset step)
    reward: np.ndarray  # [E] float32 raw rewards
    terminated: np.ndarray  # [E] bool
    truncated: np.ndarray  # [E] bool
    is_reset_step: np.ndarray  # [E] bool: this was sub-env i's NEXT_STEP reset step, not a transition


class TrainingEnvs:
    """The training envs behind the clock: ``step`` counts transitions (NEXT_STEP reset steps are
    not transitions), tracks raw returns of whole episodes (Atari games, also with episodic life) and
    turns an env exception into ``EnvFailure``."""

    def __init__(self, envs: VecEnv, tracker: EpisodeTracker, total_env_steps: int, env_step: int = 0) -> None:
        self.envs = envs
        self.total_env_steps = total_env_steps  # the budget: an agent stops stepping once env_step reaches it
        self.spec = envs.spec
        self.num_envs = envs.num_envs
        self.tracker = tracker
        self.env_step = env_step  # transitions taken, summed over envs
        self._next_is_reset_step = np.zeros(self.num_envs, dtype=bool)  # [E]
        self._stepper: ThreadPoolExecutor | None = None  # the background thread of step_async
        self._pending: Future | None = None

    def reset(self, seed: int) -> np.ndarray:
        self._next_is_reset_step[:] = False
        return self.envs.reset(seed=seed)

    def step(self, actions: np.ndarray) -> EnvStep:
        try:
            result = self.envs.step(actions)
        except Exception as err:  # a dead env worker: the runner saves what was learned, then stops
            raise self._failure(err) from err
        return self._record(result)

    def step_async(self, actions: np.ndarray) -> None:
        """Start a vector step in a background thread (ale-py's C++ envs and MuJoCo release the GIL
        while they step), so the agent can learn meanwhile; ``step_wait`` returns it."""
        if self._stepper is None:
            self._stepper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rlkit-envs")
        self._pending = self._stepper.submit(self.envs.step, actions)

    def step_wait(self) -> EnvStep:
        pending, self._pending = self._pending, None
        try:
            result = pending.result()
        except Exception as err:
            raise self._failure(err) from err
        return self._record(result)

    def shutdown_stepper(self) -> None:
        """End step_async's thread (the vector env itself is closed by its owner)."""
        if self._stepper is not None:
            self._stepper.shutdown(wait=True)
            self._stepper = None

    def _failure(self, err: Exception) -> EnvFailure:
        return EnvFailure(f"the training envs failed at env step {self.env_step:,} ({type(err).__name__}: {err})")

    def _record(self, result) -> EnvStep:
        is_reset_step = self._next_is_reset_step.copy()  # [E]
        done = result.terminated | result.truncated  # [E] the next step is a reset step
        self.tracker.step(result.reward, result.episode_end, is_reset_step)  # whole episodes (games)
        self.env_step += int(self.num_envs - is_reset_step.sum())
        self._next_is_reset_step = done & ~is_reset_step
        return EnvStep(result.obs, result.reward, result.terminated, result.truncated, is_reset_step)


class Agent(Protocol):
    """What an algorithm gives the runner (built by its ALGOS entry: ``build(run, spec, device)``)."""

    network: torch.nn.Module  # the trained network (its parameter count is printed at start)

    def start(self, obs: np.ndarray) -> None:
        """The envs were (re)started: ``obs [E, *obs_shape]`` are the first observations."""

    def train_step(self, envs: TrainingEnvs) -> None:
        """Step the envs (``envs.step``) and learn; ``envs.env_step`` is the clock. A train step of
        several vector steps ends early once the clock reaches ``envs.total_env_steps``."""

    def act_eval(self, obs: np.ndarray) -> np.ndarray:
        """Evaluation actions for ``obs [E, *obs_shape]``."""

    def pop_metrics(self, env_step: int) -> dict[str, float]:
        """The training metrics since the last call (means, counters, exploration values)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def replay_state_dict(self) -> dict[str, np.ndarray] | None:
        """The replay to snapshot beside the checkpoint, or None for an agent without one."""

    def load_replay_state_dict(self, state: dict[str, np.ndarray]) -> None: ...

    def nonfinite_diagnostic(self) -> dict[str, Any]:
        """What to write beside a non-finite stop: recent grad norms, whether the weights are finite."""


@dataclass
class RunnerCounters:
    env_step: int = 0  # transitions taken, summed over envs (reset steps excluded)
    evaluations: int = 0
    last_eval_env_step: int = -1
    next_log_env_step: int = 0
    next_eval_env_step: int = 0
    next_save_env_step: int = 0
    env_steps_since_log: int = 0


def eval_summary(returns: np.ndarray) -> dict[str, float]:
    return {"eval/return_mean": float(returns.mean()), "eval/return_std": float(returns.std()),
            "eval/return_median": float(np.median(returns)), "eval/episodes": len(returns)}


class Runner:
    def __init__(self, agent: Agent, envs: VecEnv, eval_envs: VecEnv, schedule: RunSchedule, health: HealthTracker,
                 outputs: RunOutputs, seed: int, video: Any = None) -> None:
        self.agent = agent
        self.video = video  # rlkit/video.py's PeriodicVideo (logger.video_interval_env_steps), or None
        self.eval_envs = eval_envs
        self.schedule = schedule
        self.health = health
        self.out = outputs
        self.seed = seed
        self.counters = RunnerCounters(**next_periodic_env_steps(0, schedule))
        self.tracker = EpisodeTracker(envs.num_envs)
        self.envs = TrainingEnvs(envs, self.tracker, schedule.total_env_steps)
        self.last_eval: dict[str, float] = {}
        self.last_eval_returns: list[float] = []
        # how the last evaluation began: its index, env step and env seed, and the agent state leaves it
        # changed (their values before it: rlkit/eval_start.py), so rlkit-eval can replay it exactly
        self.last_eval_start: dict[str, Any] | None = None
        self.stop = StopRequest()
        self.finished = False  # the budget (or stop_at_eval_return) was reached and the final point written
        self.best_eval_return = -np.inf  # checkpoints/best.pt holds the state that reached it

    # ------------------------------------------------------------------------- checkpoints

    def state_dict(self) -> dict[str, Any]:
        self.counters.env_step = self.envs.env_step
        return {"format": CHECKPOINT_FORMAT, "counters": vars(self.counters).copy(), "finished": self.finished,
                "wall_time_s": self.out.wall_time_s(),
                "agent": self.agent.state_dict(), "episodes": self.tracker.state_dict(),
                "health": self.health.state_dict(), "torch_rng": seeding.torch_rng_state(),
                "last_eval": dict(self.last_eval), "last_eval_returns": list(self.last_eval_returns),
                "last_eval_start": self.last_eval_start, "best_eval_return": self.best_eval_return}

    def load_state_dict(self, state: dict[str, Any], replay: dict[str, np.ndarray] | None) -> None:
        saved = state["counters"]  # intervals may have changed: they apply from here
        # the sps window starts with this process: steps taken before the stop are not in its time
        self.counters = RunnerCounters(**{**saved, **next_periodic_env_steps(saved["env_step"], self.schedule),
                                          "env_steps_since_log": 0})
        self.envs.env_step = self.counters.env_step
        self.agent.load_state_dict(state["agent"])
        self.tracker.load_state_dict(state["episodes"])
        self.health.load_state_dict(state["health"])
        seeding.set_torch_rng_state(state["torch_rng"])
        self.last_eval, self.last_eval_returns = dict(state["last_eval"]), list(state["last_eval_returns"])
        self.last_eval_start = state.get("last_eval_start")
        self.best_eval_return = state["best_eval_return"]
        if replay is not None:
            self.agent.load_replay_state_dict(replay)

    def save(self) -> None:
        self.out.save(self.envs.env_step, self.state_dict(), self.agent.replay_state_dict())

    # ------------------------------------------------------------------------------ events

    def evaluate(self) -> dict[str, float] | None:
        """The evaluation at this env step, logged; None when a stop request ended it early."""
        seed = seeding.derive_seed(self.seed, f"eval_env_{self.counters.evaluations}")
        agent_before = self.agent.state_dict()
        try:
            returns = run_episodes(self.eval_envs, self.agent.act_eval, self.schedule.eval_episodes, seed,
                                   should_stop=lambda: self.stop.requested)
        except EpisodesStopped:  # a stop request: the checkpoint comes first (SLURM's grace period is short)
            self.agent.load_state_dict(agent_before)  # as if this evaluation had not begun
            return None
        except Exception as err:  # noqa: BLE001 - e.g. an eval env's worker died: keep the training done so far
            self.agent.load_state_dict(agent_before)  # the eval streams as they were before this evaluation
            self.save()  # (a resume evaluates next at the following interval, or at the end)
            raise EnvFailure(f"the evaluation failed at env step {self.envs.env_step:,}"
                             f" ({type(err).__name__}: {err})") from None
        self.last_eval_start = {"evaluation": self.counters.evaluations, "env_step": self.envs.env_step,
                                "env_seed": seed, "episodes": self.schedule.eval_episodes,
                                "num_envs": self.eval_envs.num_envs,
                                "agent_changes": changed_leaves(agent_before, self.agent.state_dict())}
        self.counters.evaluations += 1
        self.counters.last_eval_env_step = self.envs.env_step
        self.last_eval_returns = returns.tolist()
        self.last_eval = eval_summary(returns)
        self.out.log(self.envs.env_step, self.last_eval)
        if self.last_eval["eval/return_mean"] > self.best_eval_return:
            self.best_eval_return = self.last_eval["eval/return_mean"]
            self.out.save_best(self.state_dict())
        return self.last_eval

    def log_training_row(self) -> None:
        env_step = self.envs.env_step
        row = {**self.agent.pop_metrics(env_step), **self.tracker.summary(), **self.out.system_metrics(),
               "sps": self.counters.env_steps_since_log / max(self.out.seconds_since_log(), 1e-9)}
        self.out.log_training_row(env_step, row, self.health, self.stop)
        self.counters.env_steps_since_log = 0

    def target_reached(self) -> bool:
        target = self.schedule.stop_at_eval_return
        return target is not None and self.last_eval.get("eval/return_mean", -np.inf) >= target

    def _periodic(self) -> None:
        env_step, c, sched = self.envs.env_step, self.counters, self.schedule
        if env_step >= c.next_eval_env_step:
            self.evaluate()
            c.next_eval_env_step = next_multiple(env_step, sched.eval_interval_env_steps)
            if self.stop.requested:  # (it came during the evaluation) the stop's checkpoint comes first
                return
        if env_step >= c.next_log_env_step:
            self.log_training_row()
            c.next_log_env_step = next_multiple(env_step, sched.log_interval_env_steps)
        if env_step >= c.next_save_env_step:
            self.save()
            c.next_save_env_step = next_multiple(env_step, sched.save_interval_env_steps)
        if self.video is not None:
            self.video.maybe_record(env_step)

    # -------------------------------------------------------------------------------- run

    def run(self, resume_state: dict | None = None, resume_replay: dict | None = None) -> dict[str, Any]:
        """Train to the budget (or a stop); returns the final evaluation and episode summary, or
        ``{"stopped_by": ..., "env_step": ...}`` after a stop request (a checkpoint is saved)."""
        env_seed = seeding.derive_seed(self.seed, "train_env")
        if resume_state is not None:  # emulator state is not saved: envs restart, the agent marks the seam
            self.load_state_dict(resume_state, resume_replay)
            env_seed = seeding.derive_seed(self.seed, f"train_env_resume_{self.envs.env_step}")
        self.agent.start(self.envs.reset(env_seed))
        self.stop.install()
        try:
            while (self.envs.env_step < self.schedule.total_env_steps and not self.stop.requested
                   and not self.target_reached()):
                step_start = self.envs.env_step
                try:
                    self.agent.train_step(self.envs)
                except EnvFailure:  # the checkpoint of this train step's start: nothing was learned since
                    # (PPO puts back the statistics its rollout updated; episodes that ended in it stay counted)
                    self.envs.env_step = step_start
                    self.save()
                    raise
                self.counters.env_steps_since_log += self.envs.env_step - step_start
                self._periodic()
                self.out.progress(self.envs.env_step)
            if not self.stop.requested and (self.counters.last_eval_env_step != self.envs.env_step
                                            or not self.last_eval):  # (within the stop handler's reach)
                self.out.console.status(f"final evaluation: {self.schedule.eval_episodes} episodes")
                self.evaluate()
        except NonFiniteError as err:
            self.out.write_diagnostic("nonfinite_diagnostic.json", {
                "metric": err.metric, "env_step": self.envs.env_step, "update_env_step": err.env_step,
                "details": err.details, **self.agent.nonfinite_diagnostic()})
            raise NonFiniteError(err.metric, self.envs.env_step, err.details) from None
        finally:
            self.stop.restore()
            self.envs.shutdown_stepper()
        if self.stop.requested:
            self.save()
            return {"stopped_by": self.stop.signal_name, "env_step": self.envs.env_step}
        summary = {**self.tracker.summary(), **({"target_reached": True} if self.target_reached() else {})}
        self.out.log(self.envs.env_step, summary)
        self.finished = True
        self.save()
        self.out.progress(self.envs.env_step, force=True)
        return {"env_step": self.envs.env_step, **self.last_eval, **self.tracker.summary(),
                "eval_returns": self.last_eval_returns}
