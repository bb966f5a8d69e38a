"""The run-level schemas (root, hardware, logger, health, the schedule base) and the config edge.

Every component schema (an algorithm's, a network's, an env family's, a schedule's) lives beside
its component and is registered with it (rlkit/registry.py), which stores it in Hydra's
ConfigStore as ``schema/<group>/<name>``. Each YAML option in rlkit/conf/<group>/ starts from one
of these schemas, so an unknown key or a wrong type fails at composition and Hydra names the key
path. Range and consistency checks run in ``__post_init__`` when ``to_run_config`` turns the
composed config into these dataclasses, before any file is written.

Units are in the names: ``*_env_steps`` count agent steps summed over all parallel envs (one
vector step of 16 envs is 16 env steps); Atari frames are env steps x frame skip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue
from omegaconf.nodes import FloatNode

from rlkit.registry import Registry


class ConfigValueError(ValueError):
    """A config value out of its allowed range; names the key, the value and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not allowed: {allowed}")

    def prefixed(self, group: str) -> "ConfigValueError":
        return ConfigValueError(f"{group}.{self.key}", self.value, self.allowed)


def require(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigValueError(key, value, allowed)


def one_of(key: str, value: Any, choices: tuple) -> None:
    require(value in choices, key, value, "one of " + ", ".join(map(str, choices)))


def require_positive(config: Any, *keys: str) -> None:
    for key in keys:
        require(getattr(config, key) > 0, key, getattr(config, key), "> 0")


def require_replay_schedule(schedule: Any) -> None:
    """An off-policy schedule's batch, replay and warm-up fit each other and its budget."""
    require(schedule.batch_size >= 1, "batch_size", schedule.batch_size, ">= 1")
    require(schedule.replay_capacity_transitions >= schedule.batch_size, "replay_capacity_transitions",
            schedule.replay_capacity_transitions, f">= batch_size ({schedule.batch_size})")
    require(schedule.warmup_env_steps >= schedule.batch_size, "warmup_env_steps", schedule.warmup_env_steps,
            f">= batch_size ({schedule.batch_size}): the first update needs a full batch")
    require(schedule.warmup_env_steps < schedule.total_env_steps, "warmup_env_steps", schedule.warmup_env_steps,
            f"< total_env_steps ({schedule.total_env_steps}): a warm-up at or past the budget trains nothing")


# ------------------------------------------------------------------------- component bases


@dataclass
class EnvConfig:
    """What every env family's schema has."""

    name: str = MISSING  # registry key of the env family
    reward_clip: Optional[float] = None  # clip training rewards to [-c, c]; logged returns stay raw

    def __post_init__(self) -> None:
        require(self.reward_clip is None or self.reward_clip > 0, "reward_clip", self.reward_clip, "null or > 0")

    def for_evaluation(self) -> "EnvConfig":
        """The config of the evaluation envs: the same task, without training-only shaping."""
        return self

    def without_chance(self) -> str | None:
        """Why every episode of this env is the same game under a deterministic policy (each reset
        gives the same start and no step draws at random), or None where that is not known to hold
        (gymnasium tasks draw their start state from the reset seed)."""
        return None


@dataclass
class AlgoConfig:
    """What every algorithm's schema has."""

    name: str = MISSING  # registry key of the algorithm
    grad_clip_norm: Optional[float] = None  # clip the global grad norm (null = off); health judges against it

    def __post_init__(self) -> None:
        require(self.grad_clip_norm is None or self.grad_clip_norm > 0, "grad_clip_norm", self.grad_clip_norm,
                "null or > 0")


SCHEDULES: Registry = Registry("schedule")  # schedule schemas (pure data), registered by the algorithm families


@dataclass
class RunSchedule:
    """What the runner needs of every schedule. All counts in env steps summed over envs."""

    total_env_steps: int = MISSING
    log_interval_env_steps: int = 10_000
    eval_interval_env_steps: int = 50_000
    eval_episodes: int = 10
    save_interval_env_steps: int = 100_000
    stop_at_eval_return: Optional[float] = None  # end the run once an evaluation's mean return reaches it

    def __post_init__(self) -> None:
        require_positive(self, "total_env_steps", "log_interval_env_steps", "eval_interval_env_steps",
                         "save_interval_env_steps")
        require(self.eval_episodes >= 1, "eval_episodes", self.eval_episodes, ">= 1")


# ---------------------------------------------------------------------------------- hardware

ENV_BACKENDS = ("auto", "ale_vector", "gymnasium_sync", "gymnasium_async")
CPU_LINEAR_KERNELS = ("auto", "onednn", "torch")


@dataclass
class HardwareConfig:
    """Where the run computes and how envs are stepped."""

    device: str = "cpu"  # cpu or cuda
    amp: bool = False  # CUDA autocast (float16) + GradScaler; heads and targets stay float32
    # intra-op threads for torch on the CPU: auto = the cores available to this job (the affinity
    # mask, divided among a joblib sweep's parallel jobs), printed at start; or a count
    torch_threads: str = "auto"
    # glibc keeps the memory a run frees for its next allocations instead of returning it to the OS:
    # each update's batch tensors then reuse pages already backed rather than page-faulting fresh ones
    # (rlkit/build.py: reuse_freed_memory). Resident memory stays at its peak. false = glibc's policy
    reuse_freed_memory: bool = True
    # the kernel of DQN's and IQN's wide torso layers on the CPU (rlkit/networks/linear.py): onednn
    # (its inner product, chosen by the instruction sets the CPU reports), torch (nn.Linear's own:
    # MKL's sgemm on x86-64), or auto = onednn on a non-Intel x86-64 CPU where torch has it, else
    # torch; printed at start
    cpu_linear: str = "auto"
    # flush denormal floats (magnitudes below 1.2e-38) to zero on the CPU, in torch's threads and the
    # main thread (numpy, and MuJoCo where the envs step in-process): an Adam moment whose gradient
    # stays zero (a dead unit's weights) decays into the denormal range and stays there, and x86 CPUs
    # can take a microcode assist on each operation that produces a denormal. TensorFlow's CPU
    # threads flush them too. false = IEEE gradual underflow. What holds is measured and printed at
    # start (rlkit/build.py)
    flush_denormals: bool = True
    num_envs: int = 8  # parallel training envs
    # auto: ale_vector for Atari pixels, gymnasium_sync otherwise
    env_backend: str = "auto"
    env_threads: int = 2  # worker threads of ale_vector
    # value-based agents: the envs take the next vector step in a background thread while the
    # learner spends the updates already earned (one vector step of staleness; rlkit/algos/value_based/agent.py)
    overlap_env_steps: bool = False
    # where a value-based agent's replay keeps its frames: cpu (host memory), cuda (the GPU, sampling
    # and stacking there too; needs device=cuda), or auto: the GPU when device=cuda, the frames are
    # images and they take at most half of its free memory, else the host (rlkit/algos/common.py
    # replay_frames_device); a GPU placement is printed at start
    replay_device: str = "auto"
    # torch.compile of the learner's loss forward (DQN, IQN: the update's; PPO: a minibatch's); the
    # first updates compile (seconds to minutes), printed and logged apart as compile_s; off by
    # default for that reason
    compile: bool = False
    # hardware.compile's torch.compile mode: default, or reduce-overhead (CUDA graphs: each update's
    # compiled forward and backward replay as recorded graphs instead of launching their kernels one by
    # one from Python, for a GPU the host cannot keep busy); value-based agents, device=cuda
    compile_mode: str = "default"
    eval_num_envs: int = 4  # parallel evaluation envs

    def __post_init__(self) -> None:
        one_of("device", self.device, ("cpu", "cuda"))
        one_of("replay_device", self.replay_device, ("auto", "cpu", "cuda"))
        require(self.replay_device != "cuda" or self.device == "cuda", "replay_device", self.replay_device,
                "cuda only with device=cuda")
        require(not self.amp or self.device == "cuda", "amp", self.amp, "true only with device=cuda")
        one_of("compile_mode", self.compile_mode, ("default", "reduce-overhead"))
        require(self.compile_mode == "default" or (self.compile and self.device == "cuda"), "compile_mode",
                self.compile_mode, "reduce-overhead only with hardware.compile=true and device=cuda")
        require(self.torch_threads == "auto" or (self.torch_threads.isdigit() and int(self.torch_threads) >= 1),
                "torch_threads", self.torch_threads, "auto or an integer >= 1")
        one_of("cpu_linear", self.cpu_linear, CPU_LINEAR_KERNELS)
        require(self.cpu_linear == "auto" or self.device == "cpu", "cpu_linear", self.cpu_linear,
                "auto with device=cuda (it chooses a CPU kernel)")
        require(self.num_envs >= 1, "num_envs", self.num_envs, ">= 1")
        one_of("env_backend", self.env_backend, ENV_BACKENDS)
        require(self.env_threads >= 1, "env_threads", self.env_threads, ">= 1")
        require(self.eval_num_envs >= 1, "eval_num_envs", self.eval_num_envs, ">= 1")


# ------------------------------------------------------------------------------------ logger


@dataclass
class LoggerConfig:
    """Console, metrics file, W&B (never blocks a run: offline when not logged in), optionally
    TensorBoard and periodic evaluation videos."""

    progress_bar: bool = True  # live one-line progress with ETA on the console
    wandb_mode: str = "auto"  # auto (online if logged in, else offline), online, offline, disabled
    wandb_project: str = "rlkit"
    wandb_entity: Optional[str] = None
    wandb_group: Optional[str] = None  # null = the sweep name in multiruns, else none
    # seconds an online W&B start may take (W&B's own init timeout; its SDK adds up to 10 s of grace)
    # before the run falls back to an offline W&B record under <run dir>/wandb/ for `wandb sync` later
    wandb_init_timeout_s: float = 20.0
    tags: list[str] = field(default_factory=list)
    # also write every metric row to <run dir>/tensorboard/ (x-axis env_step); needs the tensorboard
    # package: pip install -e ".[tensorboard]"
    tensorboard: bool = False
    # record one evaluation episode every this many env steps under <run dir>/videos/ (and to W&B
    # as media); null = off. Atari and MuJoCo; see rlkit/video.py for rendering without a display
    video_interval_env_steps: Optional[int] = None
    video_panel: bool = True  # draw the agent's values beside each frame of those videos

    def __post_init__(self) -> None:
        one_of("wandb_mode", self.wandb_mode, ("auto", "online", "offline", "disabled"))
        require_positive(self, "wandb_init_timeout_s")
        require(self.video_interval_env_steps is None or self.video_interval_env_steps > 0,
                "video_interval_env_steps", self.video_interval_env_steps, "null (off) or > 0")


# -------------------------------------------------------------------------------------- root


@dataclass
class HealthConfig:
    """The learning-health verdict (rlkit/health.py): always measured and logged; acted on only
    with stop_hopeless=true (off by default: measure its false-positive rate on your task first)."""

    stop_hopeless: bool = False  # end runs judged hopeless (a checkpoint is saved; resumable)
    judge_after_fraction: float = 0.3  # act only after this fraction of schedule.total_env_steps
    min_return_trend: float = 0.1  # Kendall's tau of recent training returns vs time below this: not improving
    max_grad_norm_growth: float = 10.0  # median grad norm, late half / early half, above this: diverging
    max_grad_norm_jitter: float = 0.5  # median |log ratio| of consecutive grad norms above this: oscillating
    # median recent grad norm / the grad clip above this: saturated. null: the algorithm's own limit, 5 where
    # the clip guards against divergence (DQN, IQN; SAC when its clip is set); none for PPO, whose 0.5 clip
    # healthy runs exceed more the more they learn, so saturation is no sign of trouble there
    max_grad_norm_over_clip: Optional[float] = None

    def __post_init__(self) -> None:
        require(0.0 <= self.judge_after_fraction <= 1.0, "judge_after_fraction", self.judge_after_fraction,
                "in [0, 1]")
        require(-1.0 <= self.min_return_trend <= 1.0, "min_return_trend", self.min_return_trend, "in [-1, 1]")
        require(self.max_grad_norm_growth > 0, "max_grad_norm_growth", self.max_grad_norm_growth, "> 0")
        require(self.max_grad_norm_jitter > 0, "max_grad_norm_jitter", self.max_grad_norm_jitter, "> 0")
        require(self.max_grad_norm_over_clip is None or self.max_grad_norm_over_clip > 0, "max_grad_norm_over_clip",
                self.max_grad_norm_over_clip, "null or > 0")


@dataclass
class RootConfig:
    seed: int = 0
    # a run dir to continue from its last checkpoint; auto: hydra.run.dir's (each sweep job's own dir)
    # if it holds a run with a checkpoint, else a new run there
    resume: Optional[str] = None
    allow_config_change: bool = False  # with resume: accept overrides that differ from the run's config
    check: bool = False  # validate the config and build the envs and agent, then stop: nothing is run or written
    keep_checkpoints: int = 3  # newest checkpoints kept on disk
    random_baseline_episodes: int = 0  # after training, compare eval returns to this many random-policy episodes
    health: HealthConfig = field(default_factory=HealthConfig)
    env: Any = MISSING
    network: Any = MISSING
    algo: Any = MISSING
    schedule: Any = MISSING
    hardware: Any = MISSING
    logger: Any = MISSING

    def __post_init__(self) -> None:
        require(self.seed >= 0, "seed", self.seed, ">= 0 (numpy's SeedSequence takes no negative seed)")
        require(self.keep_checkpoints >= 1, "keep_checkpoints", self.keep_checkpoints, ">= 1")
        require(self.random_baseline_episodes == 0 or self.random_baseline_episodes >= 2, "random_baseline_episodes",
                self.random_baseline_episodes, "0 (no baseline) or >= 2 (the Welch test needs two returns a side)")
        eval_episodes = getattr(self.schedule, "eval_episodes", None)
        if self.random_baseline_episodes > 0 and eval_episodes is not None:
            require(eval_episodes >= 2, "schedule.eval_episodes", eval_episodes,
                    ">= 2 with random_baseline_episodes > 0 (the Welch test needs two returns a side)")


def register_schemas() -> None:
    """Store every schema in Hydra's ConfigStore: importing the component packages registers theirs."""
    import rlkit.algos  # noqa: F401  (each registers its algorithms, networks, envs, schedules)
    import rlkit.envs  # noqa: F401
    import rlkit.networks  # noqa: F401

    cs = ConfigStore.instance()
    cs.store(name="root_schema", node=RootConfig)
    cs.store(group="schema/hardware", name="hardware", node=HardwareConfig)
    cs.store(group="schema/logger", name="logger", node=LoggerConfig)


GROUPS = ("env", "network", "algo", "schedule", "hardware", "logger")


def refuse_unknown_keys_and_non_finite_floats(node: DictConfig, schema: type, prefix: str) -> None:
    """A key no schema field reads (Hydra's ``+key=value`` adds one even to a structured config,
    and turning it into the dataclass would drop it unread), or a float field set to inf or nan
    (which pass ``> 0``-style range checks: an infinite lr or update rate breaks a run later), is
    a ConfigValueError naming it."""
    names = {f.name: f for f in fields(schema)}
    for key in node.keys():
        path = f"{prefix}{key}"
        child = node._get_node(key)
        if key not in names:
            value = "{...}" if isinstance(child, DictConfig) else child._value()
            raise ConfigValueError(path, value, f"a key of {prefix.rstrip('.') or 'the root config'}"
                                   f" ({schema.__name__}: {', '.join(names)}); '+{path}=' adds a key nothing reads")
        unset = OmegaConf.is_interpolation(node, key) or OmegaConf.is_missing(node, key)  # (checked where resolved)
        if isinstance(child, FloatNode) and not unset:
            value = child._value()
            if value is not None and not math.isfinite(value):
                raise ConfigValueError(path, value, "a finite number" + (", or null" if child._is_optional() else ""))
        if isinstance(child, DictConfig):
            child_type = OmegaConf.get_type(child)
            if child_type is not None and hasattr(child_type, "__dataclass_fields__"):
                refuse_unknown_keys_and_non_finite_floats(child, child_type, path + ".")


def to_run_config(cfg: DictConfig) -> RootConfig:
    """Turn the composed config into typed dataclasses, running every range check.

    Raises ConfigValueError naming the full key path (e.g. ``schedule.lr``).
    """
    refuse_unknown_keys_and_non_finite_floats(cfg, RootConfig, "")
    root_fields = {f.name for f in fields(RootConfig)} - set(GROUPS)
    parts: dict[str, Any] = {}
    for group in GROUPS:
        node = cfg[group]
        try:
            parts[group] = OmegaConf.to_object(node)
        except ConfigValueError as err:
            raise err.prefixed(group) from None
        except MissingMandatoryValue as err:
            key = f"{group}.{err.key}" if err.key else group
            raise ConfigValueError(key, "???", f"a value: {key} has no default; set it on the command line,"
                                   f" e.g. {key}=...") from None
        if not hasattr(parts[group], "__dataclass_fields__"):
            raise ConfigValueError(group, OmegaConf.to_container(node), "a config built on a registered schema")
    scalars: dict[str, Any] = {}
    for key in root_fields & set(cfg.keys()):
        try:
            scalars[key] = OmegaConf.to_object(cfg[key]) if isinstance(cfg[key], DictConfig) else cfg[key]
        except ConfigValueError as err:
            raise err.prefixed(key) from None
    return RootConfig(**scalars, **parts)
