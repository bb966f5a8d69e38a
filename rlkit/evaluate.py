"""`rlkit-eval <run dir> [key=value ...]` (or `python -m rlkit.evaluate ...`): evaluate a trained run.

Loads the newest checkpoint (or ``checkpoint=best.pt`` / ``step_....pt``) with the run's own
config and plays ``episodes`` evaluation episodes with the policy of choice; prints the returns and
writes them, with every setting, to ``<run dir>/eval_<stamp>.json``. ``video=true`` also writes
one MP4 per episode under ``<run dir>/videos/``; ``panel=true`` draws what the agent values beside
each frame.

Unset settings are the run's own evaluation: its evaluation policy (DQN/IQN: epsilon-greedy with
``algo.eval_epsilon``, IQN with its risk measure; PPO: the mean action, SAC: tanh of the mean,
unless ``algo.eval_deterministic=false``), ``schedule.eval_episodes`` episodes on
``hardware.eval_num_envs`` envs, sticky actions and no-op starts as trained, the run's seed. Env resets are seeded
as the runner seeds them (``derive_seed(seed, "eval_env_<k>")``, k = the checkpoint's last
evaluation) and, with the run's seed, the policy draws from the agent's own evaluation streams as
they were when that evaluation began (kept in the checkpoint: rlkit/eval_start.py). So with
everything unset, ``rlkit-eval`` replays the evaluation the run logged for that checkpoint and
says whether the returns are equal. Another ``seed`` gives another, equally deterministic,
evaluation (fresh streams from that seed).

Exit codes: 0 done; 2 input to fix (no run dir, a missing or foreign checkpoint, a bad setting,
no video encoder or renderer), with one message; 130 (Ctrl-C) or 143 (SIGTERM) interrupted: the
episodes that finished, and their videos, are kept and written to ``eval_<stamp>.json`` with
``"interrupted"`` set; only the episodes still being played (and the video of one) are dropped.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from rlkit import checkpoint, seeding
from rlkit.build import build_inference_agent, inference_device, set_cpu_threads, set_denormal_flush, torch_threads
from rlkit.checkpoint import CheckpointError
from rlkit.config import ConfigValueError, RootConfig, require
from rlkit.episodes import EpisodeQuotas
from rlkit.eval_start import with_fresh_generators, with_leaves
from rlkit.registry import UnknownComponentError
from rlkit.stop import StopRequest
from rlkit.stats import iqm
from rlkit.video import EpisodeRecorder, VideoError, build_frame_source

USAGE = ("usage: rlkit-eval <run dir> [episodes=N] [checkpoint=step_....pt|best.pt] [policy=NAME] [seed=S]\n"
         "                  [sticky=true|false] [noop_max=N] [video=true] [panel=true] [epsilon=E]\n"
         "                  [temperature=T] [risk_measure=neutral|cvar|wang] [risk_eta=X] [envs=N]\n"
         "                  [device=auto|cpu|cuda]\n"
         "       (or: python -m rlkit.evaluate ...)")
USER_ERRORS = (CheckpointError, ConfigValueError, UnknownComponentError, VideoError)


@dataclass
class EvalSettings:
    """What ``rlkit-eval`` does; unset (null) values are the run's own evaluation settings."""

    episodes: Optional[int] = None  # null = the run's schedule.eval_episodes
    checkpoint: Optional[str] = None  # a file in <run dir>/checkpoints/ (step_....pt, best.pt); null = the newest
    policy: Optional[str] = None  # greedy, epsilon, boltzmann (DQN, IQN); mean, sample (PPO, SAC); null = the run's own
    epsilon: Optional[float] = None  # policy=epsilon; null = the run's algo.eval_epsilon (0.001 by default)
    temperature: Optional[float] = None  # policy=boltzmann; null = the run's schedule.temperature_final
    risk_measure: Optional[str] = None  # IQN: neutral, cvar, wang; null = the run's
    risk_eta: Optional[float] = None  # IQN: CVaR level in (0, 1] or Wang shift; null = the run's
    seed: Optional[int] = None  # null = the run's seed (replays its evaluation); another: fresh random streams
    sticky: bool = True  # false: no sticky actions (Atari repeat_action_probability 0)
    # Atari: up to N NOOP frames at each reset, at random (the DQN papers' protocol: noop_max=30 with
    # sticky=false); 0 = none; null = the run's env.noop_max
    noop_max: Optional[int] = None
    video: bool = False  # MP4s of the episodes under <run dir>/videos/ (one env, gymnasium backend)
    panel: bool = False  # draw the agent's values beside each video frame (implies video)
    envs: Optional[int] = None  # parallel envs; null = the run's hardware.eval_num_envs (1 with video)
    device: str = "auto"  # auto (the run's device where this machine has it, else cpu), cpu or cuda

    def __post_init__(self) -> None:
        require(self.episodes is None or self.episodes >= 1, "episodes", self.episodes, ">= 1")
        require(self.envs is None or self.envs >= 1, "envs", self.envs, ">= 1")
        require(self.noop_max is None or self.noop_max >= 0, "noop_max", self.noop_max, ">= 0")
        require(self.device in ("auto", "cpu", "cuda"), "device", self.device, "one of auto, cpu, cuda")
        require(not (self.video or self.panel) or self.envs in (None, 1), "envs", self.envs,
                "1 (or unset) with video=true: videos record one env")
        if self.panel:
            self.video = True


def parse_settings(args: list[str]) -> EvalSettings:
    """``key=value`` arguments -> EvalSettings; a bad key or value is a ConfigValueError."""
    for arg in args:
        if "=" not in arg:
            raise ConfigValueError(arg, "", "key=value arguments after the run dir")
    known = [f.name for f in dataclasses.fields(EvalSettings)]
    for arg in args:
        key = arg.split("=", 1)[0]
        if key not in known:
            raise ConfigValueError(key, arg.split("=", 1)[1], "a key rlkit-eval knows: " + ", ".join(known))
    try:
        merged = OmegaConf.merge(OmegaConf.structured(EvalSettings), OmegaConf.from_dotlist(args))
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "argument"
        message = str(err).splitlines()[0]
        raise ConfigValueError(key, getattr(err, "value", None), f"a value of the right type ({message})") from None


# --------------------------------------------------------------------------------- episodes


@dataclass
class EpisodeResults:
    returns: np.ndarray  # [N] raw returns, in the order the episodes finished
    lengths: np.ndarray  # [N] env steps (transitions) per episode
    interrupted: str | None = None  # the signal that ended the episodes early (SIGINT, SIGTERM); None: all played


def play_episodes(envs: Any, policy: Any, num_episodes: int, seed: int, recorder: EpisodeRecorder | None = None,
                  stop: StopRequest | None = None) -> EpisodeResults:
    """Exactly ``num_episodes`` episodes, split over the sub-envs by ``rlkit.episodes.EpisodeQuotas`` as
    ``run_episodes`` does (the same quotas, resets and calls to the policy, so the same returns), with
    their lengths.

    With a ``recorder`` (one env only) every episode is recorded: its first obs, then the obs after
    each step, the last one the final state; the panel of a frame shows the numbers the policy
    chose that frame's action by (the final state's action is the one NEXT_STEP autoreset ignores).

    With a ``stop`` (checked once per vector step), a stop request or a KeyboardInterrupt (a second
    Ctrl-C) ends the episodes early: the results hold the episodes that finished. Whatever ends
    them early, an exception included, the recorder deletes only the episode it was writing."""
    num_envs = envs.num_envs
    if recorder is not None and num_envs != 1:
        raise ValueError(f"recording needs one env, not {num_envs}")
    quotas = EpisodeQuotas(num_envs, num_episodes)
    finished: list[tuple[float, int]] = []  # (return, length): one append, so an interrupt cannot split them
    shown_steps, shown_return = 0, 0.0  # the recorded episode so far
    writing = False
    try:
        obs = envs.reset(seed=seed)
        if recorder is not None:
            recorder.start_episode()
        while not quotas.complete and not (stop is not None and stop.requested):
            panel = recorder is not None and recorder.panel and recorder.recording
            actions, values = policy.act(obs, panel=panel)
            resets = bool(quotas.is_reset_step[0])  # this step is env 0's reset step
            if recorder is not None:
                over = "   (episode over)" if resets else ""
                writing = True  # an interrupt inside the encoder's write kills it: that file is broken
                recorder.frame(obs[0], values, f"step {shown_steps}   return {_score(shown_return)}{over}")
                writing = False
            result = envs.step(actions)
            finished.extend(quotas.step(result.reward, result.terminated, result.truncated))
            if recorder is not None:
                if resets:  # its obs starts the next episode
                    shown_steps, shown_return = 0, 0.0
                    if quotas.wants(0):
                        recorder.start_episode()
                else:
                    shown_steps, shown_return = shown_steps + 1, shown_return + float(result.reward[0])
            obs = result.obs
    except BaseException as err:
        if recorder is not None:  # (one env: ``finished`` is its episodes)
            if recorder.recording and not writing and len(finished) >= len(recorder.episodes):
                recorder.end_episode()  # its episode finished and is counted: kept, without its final frame
            else:
                recorder.abandon_episode()
        if stop is None or not isinstance(err, KeyboardInterrupt):
            raise
        if not stop.requested:
            stop.request("SIGINT")
    if recorder is not None:
        if recorder.recording and quotas.is_reset_step[0]:  # the last episode's final state
            _, values = policy.act(obs, panel=recorder.panel)
            recorder.frame(obs[0], values, f"step {shown_steps}   return {_score(shown_return)}   (episode over)")
        else:  # stopped during an episode: its video is not kept
            recorder.abandon_episode()
        recorder.close()
    interrupted = stop.signal_name if stop is not None and len(finished) < num_episodes else None
    return EpisodeResults(np.asarray([r for r, _ in finished], dtype=np.float64),
                          np.asarray([n for _, n in finished], dtype=np.int64), interrupted)


# ---------------------------------------------------------------------------------- loading


@dataclass
class LoadedCheckpoint:
    run: RootConfig
    path: Path
    state: dict[str, Any]  # the checkpoint as saved
    env_step: int  # the env steps it had trained for


def resolve_checkpoint(run_dir: Path, name: str | None) -> Path:
    """The newest ``checkpoints/step_*.pt`` of the run, or the one named."""
    from rlkit.loading import CONFIG_FILE

    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir} is not a directory")
    if not (run_dir / CONFIG_FILE).is_file():
        raise CheckpointError(f"{run_dir} is not an rlkit run dir ({CONFIG_FILE} missing)")
    folder = run_dir / checkpoint.CHECKPOINT_DIR
    if name is None:
        found = checkpoint.list_checkpoints(run_dir)
        if not found:
            raise CheckpointError(f"{run_dir} has no checkpoint yet ({folder} holds no step_*.pt)")
        return found[-1][1]
    path = folder / name
    if not path.is_file():
        known = sorted(p.name for p in folder.glob("*.pt")) if folder.is_dir() else []
        raise CheckpointError(f"checkpoint={name!r} is not in {folder}; there: {', '.join(known) or 'nothing'}")
    return path


def load_checkpoint(run_dir: Path, name: str | None) -> LoadedCheckpoint:
    """The run's typed config and the checkpoint, refused with a CheckpointError when the file is
    no rlkit checkpoint or was written by a run of another env, network or algorithm."""
    from rlkit.launch import _structural, config_differences
    from rlkit.loading import CONFIG_FILE, typed_run_config

    path = resolve_checkpoint(run_dir, name)
    saved_config = OmegaConf.load(run_dir / CONFIG_FILE)
    run = typed_run_config(saved_config)
    state = checkpoint.load_checkpoint(path)
    if not isinstance(state, dict) or "agent" not in state or "counters" not in state:
        raise CheckpointError(f"{path} is not an rlkit checkpoint (no agent state and counters)")
    if "config" in state:
        foreign = _structural(config_differences(saved_config, state["config"]))
        if foreign:
            raise CheckpointError(f"{path} was written by another run than {run_dir}: " + "; ".join(foreign))
    return LoadedCheckpoint(run, path, state, int(state["counters"]["env_step"]))


def eval_env_config(run: RootConfig, sticky: bool, noop_max: int | None = None):
    """The run's evaluation env config; ``sticky=False`` turns sticky actions off (Atari), a
    ``noop_max`` sets the random no-op starts (Atari; another env is a ConfigValueError)."""
    config = run.env.for_evaluation()
    if not sticky and hasattr(config, "repeat_action_probability"):
        config = dataclasses.replace(config, repeat_action_probability=0.0)
    if noop_max is not None:
        require(hasattr(config, "noop_max"), "noop_max", noop_max,
                f"unset: only Atari envs have no-op starts, not this run's {run.env.name} env")
        config = dataclasses.replace(config, noop_max=noop_max)
    return config


def video_envs(run: RootConfig, env_config: Any):
    """One env of the run's task on the gymnasium backend (the one whose frames a video can show)."""
    from rlkit.envs import ENVS

    return ENVS.get(run.env.name)(env_config, num_envs=1, backend="gymnasium_sync", env_threads=1)


def build_agent(loaded: LoadedCheckpoint, spec: Any, device: torch.device, at_eval_start: bool,
                notes: list[str] | None = None) -> Any:
    """The run's agent with the checkpoint's state; ``at_eval_start``: as its last evaluation began.
    A random stream saved on another device type (a CUDA run's generators, acting on the CPU) starts
    from its seed instead, said in ``notes``."""
    agent = build_inference_agent(loaded.run, spec, device)
    agent_state = loaded.state["agent"]
    if at_eval_start:
        agent_state = with_leaves(agent_state, loaded.state["last_eval_start"]["agent_changes"])
    agent_state, reseeded = with_fresh_generators(agent.state_dict(), agent_state)
    if reseeded and notes is not None:
        notes.append(f"device={device.type}: the checkpoint's random streams of another device"
                     f" ({', '.join('.'.join(map(str, path)) for path in reseeded)}) start from their seeds,"
                     " so these episodes are not a replay of the run's own evaluation")
    try:
        agent.load_state_dict(agent_state)
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{loaded.path} does not fit this run's {loaded.run.algo.name} agent"
                              f" ({type(err).__name__}: {first})") from None
    return agent


# ------------------------------------------------------------------------------- evaluation


def evaluate_run(run_dir: str | Path, settings: EvalSettings, out: Any = print,
                 keep_obs: bool = False) -> dict[str, Any]:
    """Evaluate ``run_dir`` as ``settings`` say; returns what ``eval_<stamp>.json`` holds (and
    writes it). ``keep_obs``: keep the recorded frames' observations (tests)."""
    from rlkit.eval_policies import PolicyChoice, build_policy

    started = time.monotonic()
    run_dir = Path(run_dir)
    loaded = load_checkpoint(run_dir, settings.checkpoint)
    run = loaded.run
    device = inference_device(settings.device, run.hardware.device)
    set_cpu_threads(torch_threads(run.hardware.torch_threads)[0])
    set_denormal_flush(run.hardware.flush_denormals)  # the numerics the run trained with
    counters = loaded.state["counters"]
    start = loaded.state.get("last_eval_start")
    at_eval_start = start is not None and start["env_step"] == loaded.env_step
    if at_eval_start:
        evaluation = start["evaluation"]
    elif counters.get("last_eval_env_step") == loaded.env_step:  # an earlier checkpoint: its evaluation's seed
        evaluation = max(int(counters["evaluations"]) - 1, 0)
    else:  # trained past its last evaluation: the seed of the one the runner would run next
        evaluation = int(counters.get("evaluations", 0))
    seed = run.seed if settings.seed is None else settings.seed
    own_streams = seed == run.seed
    env_seed = seeding.derive_seed(seed, f"eval_env_{evaluation}")
    episodes = settings.episodes or run.schedule.eval_episodes
    num_envs = 1 if settings.video else (settings.envs or run.hardware.eval_num_envs)
    backend = "gymnasium_sync" if settings.video else run.hardware.env_backend
    env_config = eval_env_config(run, settings.sticky, settings.noop_max)
    notes = []
    if not settings.sticky and not hasattr(env_config, "repeat_action_probability"):
        notes.append(f"sticky=false: {run.env.name} envs have no sticky actions; nothing changed")

    from rlkit.envs import ENVS

    envs = (video_envs(run, env_config) if settings.video else
            ENVS.get(run.env.name)(env_config, num_envs=num_envs, backend=backend,
                                   env_threads=run.hardware.env_threads))
    try:
        agent = build_agent(loaded, envs.spec, device, at_eval_start, notes)
        choice = PolicyChoice(settings.policy, settings.epsilon, settings.temperature, settings.risk_measure,
                              settings.risk_eta)
        policy = build_policy(agent, run, envs.spec, choice, seed=None if own_streams else seed)
        copies = _copies_note(policy, run, env_config, settings.sticky, episodes)
        if copies is not None:
            notes.append(copies)
        stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
        recorder = None
        if settings.video:
            recorder = EpisodeRecorder(build_frame_source(run.env.name, envs), run_dir / "videos", f"eval_{stamp}",
                                       panel=settings.panel, keep_obs=keep_obs)
        out(f"rlkit-eval: {run_dir}, {loaded.path.name} ({loaded.env_step:,} env steps), {run.algo.name} on"
            f" {envs.spec.env_id}")
        out(f"policy: {_describe(policy.settings)}; seed {seed}{' (the run seed)' if own_streams else ''};"
            f" {_count(episodes, 'episode')} on {_count(num_envs, 'env')}"
            + (f"; sticky actions p={env_config.repeat_action_probability:g}"
               if hasattr(env_config, "repeat_action_probability") else "")
            + (f"; no-op starts up to {env_config.noop_max}" if getattr(env_config, "noop_max", 0) else ""))
        stop = StopRequest()  # Ctrl-C or SIGTERM: a record of the episodes that finished, then exit 130 / 143
        stop.install()
        try:
            results = play_episodes(envs, policy, episodes, env_seed, recorder, stop)
        finally:
            stop.restore()
    finally:
        envs.close()
    returns, lengths = results.returns, results.lengths
    if results.interrupted is not None:
        notes.append(f"interrupted by {results.interrupted} after {len(returns)} of {episodes} episodes: the returns"
                     " (and videos) are those of the episodes that finished"
                     + ("; with several envs the shorter episodes finish first" if num_envs > 1 else ""))
    replay = None
    same_settings = (results.interrupted is None and at_eval_start and own_streams and policy.is_runs_own
                     and env_config == run.env.for_evaluation() and episodes == start["episodes"])
    same_as_run = same_settings and num_envs == start["num_envs"] and backend == run.hardware.env_backend
    if same_settings and not same_as_run and settings.video:  # say why the replay check is missing
        notes.append(f"video=true plays on 1 env ({backend}) where the run evaluated on {start['num_envs']}"
                     f" ({run.hardware.env_backend}): these episodes are not a replay of its evaluation")
    if same_as_run:
        logged = [float(r) for r in loaded.state.get("last_eval_returns", [])]
        replay = {"evaluation": evaluation, "env_step": start["env_step"], "logged_returns": logged,
                  "equal": logged == returns.tolist()}
    record = {
        "run_dir": str(run_dir), "checkpoint": loaded.path.name, "env_step": loaded.env_step,
        "algo": run.algo.name, "env": envs.spec.env_id,
        "settings": {**dataclasses.asdict(settings), **policy.settings, "episodes": episodes, "seed": seed,
                     "device": device.type,
                     "env_seed": env_seed, "evaluation_index": evaluation, "num_envs": num_envs, "backend": backend,
                     "agent_streams": "as the checkpoint's last evaluation began" if own_streams and at_eval_start
                     else ("the checkpoint's" if own_streams else f"fresh, from seed {seed}"),
                     **({"repeat_action_probability": env_config.repeat_action_probability}
                        if hasattr(env_config, "repeat_action_probability") else {}),
                     **({"noop_max": env_config.noop_max} if hasattr(env_config, "noop_max") else {})},
        **_return_stats(returns, lengths), "episode_returns": returns.tolist(), "episode_lengths": lengths.tolist(),
        "interrupted": results.interrupted,
        "reproduces_run_evaluation": replay,
        "videos": [str(e.path) for e in recorder.episodes] if recorder is not None else [],
        "notes": notes, "wall_time_s": round(time.monotonic() - started, 3),
    }
    path = run_dir / f"eval_{stamp}.json"
    checkpoint.atomic_write(path, lambda handle: handle.write(json.dumps(record, indent=2).encode()))
    record["path"] = str(path)
    for note in notes:
        out(f"note: {note}")
    if len(returns):
        out(f"return: mean {record['return_mean']:.2f} +- {record['return_std']:.2f} (std), IQM"
            f" {record['return_iqm']:.2f}, min {record['return_min']:.2f}, max {record['return_max']:.2f} over"
            f" {_count(len(returns), 'episode')}; mean length {record['length_mean']:.1f} steps")
    else:
        out("return: no episode finished")
    if replay is not None:
        verdict = "equal: reproduced exactly" if replay["equal"] else "DIFFERENT (see the JSON)"
        out(f"the run's own evaluation at env step {replay['env_step']:,} logged mean"
            f" {np.mean(replay['logged_returns']):.2f}: returns {verdict}")
    if recorder is not None:
        out(f"videos: {len(recorder.episodes)} under {run_dir / 'videos'} (eval_{stamp}_ep*.mp4)")
    out(f"written: {path}")
    if keep_obs and recorder is not None:
        record["recorded"] = recorder.episodes
    return record


def _return_stats(returns: np.ndarray, lengths: np.ndarray) -> dict[str, float | None]:
    """Mean, std, min, max, IQM and median of returns [N] and the mean of lengths [N]; None when N = 0
    (an evaluation interrupted before its first episode finished)."""
    names = ("return_mean", "return_std", "return_min", "return_max", "return_iqm", "return_median", "length_mean")
    if len(returns) == 0:
        return dict.fromkeys(names)
    values = (returns.mean(), returns.std(), returns.min(), returns.max(), iqm(returns), np.median(returns),
              lengths.mean())
    return {name: float(value) for name, value in zip(names, values)}


def _copies_note(policy: Any, run: RootConfig, env_config: Any, sticky: bool, episodes: int) -> str | None:
    """A note when every episode must be the same game (a policy that draws nothing in an env
    without chance): their std is 0 and their IQM their return, which measure nothing."""
    why = env_config.without_chance()
    if episodes < 2 or not policy.deterministic or why is None:
        return None
    spread = []
    if not sticky and getattr(run.env.for_evaluation(), "repeat_action_probability", 0.0) > 0:
        spread.append("keep the run's sticky actions (drop sticky=false)")
    if hasattr(env_config, "noop_max"):
        spread.append("add random no-op starts (noop_max=30)")
    return (f"the {episodes} episodes are copies of one game: policy={policy.name} draws nothing, {why}, so"
            f" their std (0) and IQM (their return) measure nothing"
            + (f"; for a spread, {' or '.join(spread)}" if spread else ""))


def _score(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _describe(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in settings.items())


def main(argv: list[str] | None = None) -> int:
    """The console script ``rlkit-eval`` and ``python -m rlkit.evaluate``; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(USAGE + "\n\n" + "\n".join(line for line in __doc__.splitlines()[2:]))
        return 0
    from rlkit.launch import EXIT_CODES

    run_dir, args = argv[0], argv[1:]
    try:
        settings = parse_settings(args)
        record = evaluate_run(run_dir, settings)
    except USER_ERRORS as err:
        print(f"rlkit-eval: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the episodes began, or a second Ctrl-C after them
        print("rlkit-eval: interrupted (SIGINT) before its record was written", file=sys.stderr)
        return EXIT_CODES["SIGINT"]
    if record["interrupted"] is not None:
        finished = len(record["episode_returns"])
        print(f"rlkit-eval: interrupted ({record['interrupted']}) after {finished} of"
              f" {_count(record['settings']['episodes'], 'episode')}; their record: {record['path']}"
              + (f", their videos: {len(record['videos'])} kept" if record["settings"]["video"] else ""),
              file=sys.stderr)
        return EXIT_CODES.get(record["interrupted"], EXIT_CODES["SIGINT"])
    return 0


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
