"""Typed schemas for every config group, registered in Hydra's ConfigStore.

Each YAML option in conf/<group>/ starts from one of these schemas (its defaults list names
`/schema/<group>@<group>: <schema>`), so an unknown key or a wrong type fails at composition and
Hydra names the key path. Range and consistency checks run in ``__post_init__`` when
``to_run_config`` turns the composed config into these dataclasses, before any file is written.

Units are in the names: ``*_env_steps`` count agent steps summed over all parallel envs (one
vector step of 16 envs is 16 env steps); Atari frames are env steps x frame skip.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf


class ConfigValueError(ValueError):
    """A config value out of its allowed range; names the key, the value and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not allowed: {allowed}")

    def prefixed(self, group: str) -> "ConfigValueError":
        return ConfigValueError(f"{group}.{self.key}", self.value, self.allowed)


def _require(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigValueError(key, value, allowed)


def _one_of(key: str, value: Any, choices: tuple) -> None:
    _require(value in choices, key, value, "one of " + ", ".join(map(str, choices)))


# --------------------------------------------------------------------------------------- env


@dataclass
class AtariEnvConfig:
    """An Atari game with ALE v5 semantics (pixels or 128-byte RAM)."""

    name: str = "atari"  # registry key of the env family
    game: str = MISSING  # ALE ROM id, e.g. "boxing", "video_pinball"
    obs_type: str = "pixels"  # pixels: 84x84 grayscale frames; ram: the 128-byte console RAM
    frame_skip: int = 4  # emulator frames per agent step (the only place frame skip is set)
    repeat_action_probability: float = 0.25  # sticky actions, applied per emulator frame
    frame_stack: int = 4  # frames per observation (RAM presets use 1)
    screen_size: int = 84  # square frame side after resizing (pixels only)
    max_pool: bool = True  # max over the last two emulator frames of each step (pixels only)
    noop_max: int = 0  # random no-op starts (0 = off, as in v5)
    max_episode_frames: int = 108_000  # emulator frames before truncation (30 min of play)
    episodic_life: bool = False  # end training episodes on life loss
    fire_reset: bool = False  # press FIRE after reset (games that need it to start)
    full_action_space: bool = False  # False = the game's minimal action set
    reward_clip: Optional[float] = None  # clip training rewards to [-c, c]; logged returns stay raw

    def __post_init__(self) -> None:
        _one_of("obs_type", self.obs_type, ("pixels", "ram"))
        _require(self.frame_skip >= 1, "frame_skip", self.frame_skip, ">= 1")
        _require(0.0 <= self.repeat_action_probability < 1.0, "repeat_action_probability",
                 self.repeat_action_probability, "in [0, 1)")
        _require(self.frame_stack >= 1, "frame_stack", self.frame_stack, ">= 1")
        _require(self.screen_size >= 36, "screen_size", self.screen_size, ">= 36 (the Nature CNN needs it)")
        _require(self.noop_max >= 0, "noop_max", self.noop_max, ">= 0")
        _require(self.max_episode_frames > 0, "max_episode_frames", self.max_episode_frames, "> 0")
        _require(self.reward_clip is None or self.reward_clip > 0, "reward_clip", self.reward_clip,
                 "null or > 0")


@dataclass
class ClassicEnvConfig:
    """A gymnasium classic-control task with discrete actions (CartPole) for tests and examples."""

    name: str = "classic"
    gym_id: str = "CartPole-v1"
    reward_clip: Optional[float] = None

    def __post_init__(self) -> None:
        _require(self.reward_clip is None or self.reward_clip > 0, "reward_clip", self.reward_clip,
                 "null or > 0")


@dataclass
class MujocoEnvConfig:
    """A gymnasium MuJoCo v5 task with continuous actions (Hopper, HalfCheetah, Ant, Humanoid, ...).

    Observations are ``[E, 1, obs_dim]`` float32; actions are clipped to the task's bounds when sent
    to the env (the policy's log-prob uses the unclipped sample). Normalization is the algorithm's
    business (``algo.normalize_obs`` / ``algo.normalize_reward``), not the env's.
    """

    name: str = "mujoco"
    gym_id: str = MISSING  # gymnasium id, e.g. "Hopper-v5"
    max_episode_steps: Optional[int] = None  # time limit (a truncation); null = the task's own (1000)

    def __post_init__(self) -> None:
        _require(self.gym_id.endswith("-v5"), "gym_id", self.gym_id, "a gymnasium MuJoCo v5 id, e.g. Hopper-v5")
        _require(self.max_episode_steps is None or self.max_episode_steps >= 1, "max_episode_steps",
                 self.max_episode_steps, "null or >= 1")


# ----------------------------------------------------------------------------------- network


@dataclass
class NatureCNNConfig:
    """Mnih et al. 2015: three convs then one hidden fc layer; input scaled by 1/255 inside."""

    name: str = "nature_cnn"
    conv_channels: list[int] = field(default_factory=lambda: [32, 64, 64])
    fc_hidden: int = 512

    def __post_init__(self) -> None:
        _require(len(self.conv_channels) == 3 and all(c >= 1 for c in self.conv_channels),
                 "conv_channels", list(self.conv_channels), "three positive channel counts (8x8/4, 4x4/2, 3x3/1)")
        _require(self.fc_hidden >= 1, "fc_hidden", self.fc_hidden, ">= 1")


@dataclass
class MLPConfig:
    """A ReLU MLP torso over the flattened observation (uint8 inputs scaled by 1/255 inside)."""

    name: str = "mlp"
    hidden_sizes: list[int] = field(default_factory=lambda: [576, 576])

    def __post_init__(self) -> None:
        _require(len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes),
                 "hidden_sizes", list(self.hidden_sizes), "one or more positive widths")


@dataclass
class ActorCriticConfig:
    """A Gaussian policy and a value function over flat float observations (PPO on MuJoCo).

    The mean comes from a tanh MLP, the log-std is a learned state-independent vector; orthogonal
    init with gain sqrt(2) on hidden layers, 0.01 on the mean layer, 1.0 on the value layer.
    """

    name: str = "actor_critic"
    # separate: two MLPs (policy, value), CleanRL's ppo_continuous_action;
    # shared: one MLP trunk feeding both the mean and the value head (the report's)
    trunk: str = "separate"
    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    init_log_std: float = -0.5  # initial log standard deviation of every action dimension (std 0.61)

    def __post_init__(self) -> None:
        _one_of("trunk", self.trunk, ("separate", "shared"))
        _require(len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes),
                 "hidden_sizes", list(self.hidden_sizes), "one or more positive widths")


# -------------------------------------------------------------------------------------- algo

BACKUPS = ("max", "expected", "soft", "report_soft")


def _check_value_based(algo: Any) -> None:
    """The checks shared by the value-based algorithms' schemas (DQN, IQN)."""
    _require(0.0 <= algo.gamma <= 1.0, "gamma", algo.gamma, "in [0, 1]")
    _require(algo.n_step >= 1, "n_step", algo.n_step, ">= 1")
    _one_of("backup", algo.backup, BACKUPS)
    _one_of("exploration", algo.exploration, ("epsilon_greedy", "boltzmann"))
    _one_of("target_update", algo.target_update, ("hard", "soft"))
    _require(0.0 < algo.polyak_tau <= 1.0, "polyak_tau", algo.polyak_tau, "in (0, 1]")
    _require(algo.grad_clip_norm is None or algo.grad_clip_norm > 0, "grad_clip_norm", algo.grad_clip_norm,
             "null or > 0")
    _require(algo.adam_eps > 0, "adam_eps", algo.adam_eps, "> 0")
    _require(algo.target_clip is None or algo.target_clip > 0, "target_clip", algo.target_clip, "null or > 0")
    _require(0.0 <= algo.eval_epsilon <= 1.0, "eval_epsilon", algo.eval_epsilon, "in [0, 1]")


@dataclass
class DQNConfig:
    """The DQN family: one TD loss whose target is a swappable piece (Double, backup kind)."""

    name: str = "dqn"
    gamma: float = 0.99  # discount per env step
    n_step: int = 1  # n-step returns, cut at episode ends
    double_q: bool = True  # online net picks a', target net evaluates it (van Hasselt et al. 2016)
    # max: max_a' Q; expected: sum_a' pi(a') Q under pi = softmax(Q / T);
    # soft: sum pi (Q - T log pi) = T logsumexp(Q / T) (soft Q-learning);
    # report_soft: sum pi Q - T H(pi), the course report's formula (sign flipped), kept to reproduce it
    backup: str = "max"
    td_loss: str = "huber"  # huber (delta 1) or mse
    exploration: str = "epsilon_greedy"  # epsilon_greedy or boltzmann (softmax over Q / T)
    target_update: str = "soft"  # hard: copy every target_update_period_env_steps; soft: Polyak each update
    polyak_tau: float = 0.003  # soft-update weight of the online net, in (0, 1]
    grad_clip_norm: Optional[float] = 10.0  # clip the global grad norm (null = off)
    adam_eps: float = 1.5e-4
    target_clip: Optional[float] = None  # clamp TD targets to [-c, c] (null = off)
    eval_epsilon: float = 0.001  # epsilon of evaluation episodes

    def __post_init__(self) -> None:
        _check_value_based(self)
        _one_of("td_loss", self.td_loss, ("huber", "mse"))


RISK_MEASURES = ("neutral", "cvar", "wang")


@dataclass
class IQNConfig:
    """Implicit quantile networks (Dabney et al. 2018) with the DQN family's targets and exploration.

    Tau counts left null take a device preset at start (printed): CPU N = N' = K = 8, so Boxing
    pixels train at >= 40 env steps/s on 2 cores; CUDA the paper's N = N' = 64, K = 32.
    """

    name: str = "iqn"
    gamma: float = 0.99
    n_step: int = 1
    double_q: bool = True  # the online net's mean over K taus picks a'
    backup: str = "max"  # max | expected | soft | report_soft, as in algo=dqn (targets stay distributions)
    exploration: str = "epsilon_greedy"
    target_update: str = "soft"
    polyak_tau: float = 0.003
    grad_clip_norm: Optional[float] = 10.0
    adam_eps: float = 3.125e-4  # Dopamine's IQN: 0.01 / 32
    target_clip: Optional[float] = None
    eval_epsilon: float = 0.001
    kappa: float = 1.0  # quantile Huber threshold; 0 = plain quantile regression
    num_online_taus: Optional[int] = None  # N (null = device preset)
    num_target_taus: Optional[int] = None  # N' (null = device preset)
    num_acting_taus: Optional[int] = None  # K (null = device preset)
    num_cosines: int = 64  # cos(pi i tau), i = 1..num_cosines
    risk_measure: str = "neutral"  # neutral: mean over taus; cvar: taus in [0, eta]; wang: Phi(Phi^-1(tau) + eta)
    risk_eta: float = 1.0  # CVaR level in (0, 1]; Wang shift (eta < 0 is risk-averse)

    def __post_init__(self) -> None:
        _check_value_based(self)
        _require(self.kappa >= 0, "kappa", self.kappa, ">= 0")
        for key in ("num_online_taus", "num_target_taus", "num_acting_taus"):
            value = getattr(self, key)
            _require(value is None or value >= 1, key, value, "null (device preset) or >= 1")
        _require(self.num_cosines >= 1, "num_cosines", self.num_cosines, ">= 1")
        _one_of("risk_measure", self.risk_measure, RISK_MEASURES)
        if self.risk_measure == "cvar":
            _require(0.0 < self.risk_eta <= 1.0, "risk_eta", self.risk_eta, "in (0, 1] for risk_measure=cvar")


@dataclass
class PPOConfig:
    """PPO with a clipped surrogate (Schulman et al. 2017), CleanRL's ppo_continuous_action defaults."""

    name: str = "ppo"
    gamma: float = 0.99  # discount per env step
    gae_lambda: float = 0.95  # GAE's lambda (Schulman et al. 2016)
    clip_coef: float = 0.2  # epsilon of the clipped surrogate (and of the value clipping)
    clip_value_loss: bool = True  # clip the value change to +-clip_coef around the rollout's values
    value_coef: float = 0.5  # weight of the value loss in the total loss
    entropy_coef: float = 0.0  # weight of the entropy bonus
    max_grad_norm: float = 0.5  # clip the global grad norm
    target_kl: Optional[float] = None  # stop the epochs early when approx KL passes it (null = off)
    normalize_advantages: bool = True  # per minibatch: (A - mean) / (std + 1e-8)
    recompute_advantages: bool = False  # GAE again before every epoch after the first, with the current critic
    normalize_obs: bool = True  # running mean/std of observations (frozen in evaluation)
    obs_clip: float = 10.0  # clip normalized observations to [-c, c]
    normalize_reward: bool = True  # divide rewards by the running std of the discounted return
    reward_clip: float = 10.0  # clip scaled training rewards to [-c, c]; logged returns stay raw
    adam_eps: float = 1e-5
    eval_deterministic: bool = True  # evaluation acts with the mean action (false: samples)
    # the Gaussian acts in [-1, 1] per dim, clipped and mapped onto the env's bounds (false: env units, env clips;
    # the identity on [-1, 1] tasks; Humanoid-v5's +-0.4 torques: 657 -> 984 at 1M env steps, one seed)
    rescale_actions: bool = True

    def __post_init__(self) -> None:
        _require(0.0 <= self.gamma <= 1.0, "gamma", self.gamma, "in [0, 1]")
        _require(0.0 <= self.gae_lambda <= 1.0, "gae_lambda", self.gae_lambda, "in [0, 1]")
        _require(self.clip_coef > 0, "clip_coef", self.clip_coef, "> 0")
        _require(self.value_coef >= 0, "value_coef", self.value_coef, ">= 0")
        _require(self.entropy_coef >= 0, "entropy_coef", self.entropy_coef, ">= 0")
        _require(self.max_grad_norm > 0, "max_grad_norm", self.max_grad_norm, "> 0")
        _require(self.target_kl is None or self.target_kl > 0, "target_kl", self.target_kl, "null or > 0")
        _require(self.obs_clip > 0, "obs_clip", self.obs_clip, "> 0")
        _require(self.reward_clip > 0, "reward_clip", self.reward_clip, "> 0")
        _require(self.adam_eps > 0, "adam_eps", self.adam_eps, "> 0")


# ---------------------------------------------------------------------------------- schedule


@dataclass
class OffPolicySchedule:
    """How long and how big an off-policy run is. All counts in env steps summed over envs."""

    total_env_steps: int = MISSING
    warmup_env_steps: int = MISSING  # env steps collected before the first update
    replay_capacity_transitions: int = MISSING
    batch_size: int = MISSING
    # gradient updates per env step, summed over envs: with 16 envs, 1.0 = 16 updates per vector
    # step, 0.25 = one update every 4 env steps
    updates_per_env_step: float = MISSING
    lr: float = MISSING
    lr_final: Optional[float] = None  # linear decay target (null = constant lr)
    lr_decay_env_steps: Optional[int] = None  # null = total_env_steps
    epsilon_start: float = 1.0
    epsilon_final: float = 0.01
    epsilon_decay_env_steps: int = 100_000
    temperature_start: float = 1.0  # Boltzmann / soft-backup temperature (the report's alpha)
    temperature_final: float = 0.01
    temperature_decay_env_steps: int = 100_000
    target_update_period_env_steps: int = 8_000  # hard target updates only
    log_interval_env_steps: int = 10_000
    eval_interval_env_steps: int = 50_000
    eval_episodes: int = 10
    save_interval_env_steps: int = 100_000

    def __post_init__(self) -> None:
        _require(self.total_env_steps > 0, "total_env_steps", self.total_env_steps, "> 0")
        _require(self.warmup_env_steps >= 0, "warmup_env_steps", self.warmup_env_steps, ">= 0")
        _require(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        _require(self.replay_capacity_transitions >= self.batch_size, "replay_capacity_transitions",
                 self.replay_capacity_transitions, f">= batch_size ({self.batch_size})")
        _require(self.warmup_env_steps >= self.batch_size, "warmup_env_steps", self.warmup_env_steps,
                 f">= batch_size ({self.batch_size}): the first update needs a full batch")
        _require(self.updates_per_env_step > 0, "updates_per_env_step", self.updates_per_env_step, "> 0")
        _require(self.lr > 0, "lr", self.lr, "> 0")
        _require(self.lr_final is None or self.lr_final > 0, "lr_final", self.lr_final, "null or > 0")
        _require(self.lr_decay_env_steps is None or self.lr_decay_env_steps > 0, "lr_decay_env_steps",
                 self.lr_decay_env_steps, "null or > 0")
        for key in ("epsilon_start", "epsilon_final"):
            _require(0.0 <= getattr(self, key) <= 1.0, key, getattr(self, key), "in [0, 1]")
        for key in ("temperature_start", "temperature_final"):
            _require(getattr(self, key) > 0, key, getattr(self, key), "> 0")
        for key in ("epsilon_decay_env_steps", "temperature_decay_env_steps", "target_update_period_env_steps",
                    "log_interval_env_steps", "eval_interval_env_steps", "save_interval_env_steps"):
            _require(getattr(self, key) > 0, key, getattr(self, key), "> 0")
        _require(self.eval_episodes >= 1, "eval_episodes", self.eval_episodes, ">= 1")


@dataclass
class OnPolicySchedule:
    """How long and how big an on-policy (PPO) run is. All counts in env steps summed over envs.

    A rollout is ``rollout_transitions`` env steps: each of ``hardware.num_envs`` envs steps
    ``rollout_transitions / num_envs`` times, so the batch per update does not change with the
    number of envs (2048 = CleanRL's 1 env x 2048 steps; with hardware=cpu's 8 envs, 8 x 256).
    The NEXT_STEP reset step after an episode end is not a transition: it is masked out, so a
    rollout holds slightly fewer than ``rollout_transitions`` transitions.
    """

    total_env_steps: int = MISSING
    rollout_transitions: int = 2048  # env steps per rollout, summed over envs (a multiple of num_envs)
    num_epochs: int = 10  # passes over each rollout
    num_minibatches: int = 32  # minibatches per epoch (2048 / 32 = 64 transitions each)
    lr: float = 3e-4  # Adam's learning rate at env step 0
    anneal_lr: bool = True  # decay lr linearly to 0 at total_env_steps (per rollout, as CleanRL)
    log_interval_env_steps: int = 10_000
    eval_interval_env_steps: int = 50_000
    eval_episodes: int = 10
    save_interval_env_steps: int = 100_000
    stop_at_eval_return: Optional[float] = None  # end the run once an evaluation's mean return reaches it

    def __post_init__(self) -> None:
        _require(self.total_env_steps > 0, "total_env_steps", self.total_env_steps, "> 0")
        _require(self.rollout_transitions >= 1, "rollout_transitions", self.rollout_transitions, ">= 1")
        _require(self.num_epochs >= 1, "num_epochs", self.num_epochs, ">= 1")
        _require(1 <= self.num_minibatches <= self.rollout_transitions, "num_minibatches", self.num_minibatches,
                 f"in [1, rollout_transitions ({self.rollout_transitions})]")
        _require(self.lr > 0, "lr", self.lr, "> 0")
        for key in ("log_interval_env_steps", "eval_interval_env_steps", "save_interval_env_steps"):
            _require(getattr(self, key) > 0, key, getattr(self, key), "> 0")
        _require(self.eval_episodes >= 1, "eval_episodes", self.eval_episodes, ">= 1")


# ---------------------------------------------------------------------------------- hardware

ENV_BACKENDS = ("auto", "ale_vector", "gymnasium_sync", "gymnasium_async")


@dataclass
class HardwareConfig:
    """Where the run computes and how envs are stepped."""

    device: str = "cpu"  # cpu or cuda
    amp: bool = False  # CUDA autocast (float16) + GradScaler; heads and targets stay float32
    torch_threads: int = 1  # intra-op threads for torch on the CPU (1: small nets and env threads do not contend)
    num_envs: int = 8  # parallel training envs
    # auto: ale_vector for Atari pixels, gymnasium_sync otherwise
    env_backend: str = "auto"
    env_threads: int = 2  # worker threads of ale_vector
    eval_num_envs: int = 4  # parallel evaluation envs

    def __post_init__(self) -> None:
        _one_of("device", self.device, ("cpu", "cuda"))
        _require(not self.amp or self.device == "cuda", "amp", self.amp, "true only with device=cuda")
        _require(self.torch_threads >= 1, "torch_threads", self.torch_threads, ">= 1")
        _require(self.num_envs >= 1, "num_envs", self.num_envs, ">= 1")
        _one_of("env_backend", self.env_backend, ENV_BACKENDS)
        _require(self.env_threads >= 1, "env_threads", self.env_threads, ">= 1")
        _require(self.eval_num_envs >= 1, "eval_num_envs", self.eval_num_envs, ">= 1")


# ------------------------------------------------------------------------------------ logger


@dataclass
class LoggerConfig:
    """Console, metrics file and W&B. W&B never blocks a run: offline when not logged in."""

    progress_bar: bool = True  # live one-line progress with ETA on the console
    wandb_mode: str = "auto"  # auto (online if logged in, else offline), online, offline, disabled
    wandb_project: str = "rlkit"
    wandb_entity: Optional[str] = None
    wandb_group: Optional[str] = None  # null = the sweep name in multiruns, else none
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _one_of("wandb_mode", self.wandb_mode, ("auto", "online", "offline", "disabled"))


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
    max_grad_norm_over_clip: float = 5.0  # median recent grad norm / the grad clip above this: saturated

    def __post_init__(self) -> None:
        _require(0.0 <= self.judge_after_fraction <= 1.0, "judge_after_fraction", self.judge_after_fraction,
                 "in [0, 1]")
        _require(-1.0 <= self.min_return_trend <= 1.0, "min_return_trend", self.min_return_trend, "in [-1, 1]")
        _require(self.max_grad_norm_growth > 0, "max_grad_norm_growth", self.max_grad_norm_growth, "> 0")
        _require(self.max_grad_norm_jitter > 0, "max_grad_norm_jitter", self.max_grad_norm_jitter, "> 0")
        _require(self.max_grad_norm_over_clip > 0, "max_grad_norm_over_clip", self.max_grad_norm_over_clip, "> 0")


@dataclass
class RootConfig:
    seed: int = 0
    resume: Optional[str] = None  # a run dir to continue from its last checkpoint
    allow_config_change: bool = False  # with resume: accept overrides that differ from the run's config
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
        _require(self.keep_checkpoints >= 1, "keep_checkpoints", self.keep_checkpoints, ">= 1")
        _require(self.random_baseline_episodes >= 0, "random_baseline_episodes", self.random_baseline_episodes, ">= 0")


SCHEMAS: dict[str, dict[str, type]] = {
    "env": {"atari": AtariEnvConfig, "classic": ClassicEnvConfig, "mujoco": MujocoEnvConfig},
    "network": {"nature_cnn": NatureCNNConfig, "mlp": MLPConfig, "actor_critic": ActorCriticConfig},
    "algo": {"dqn": DQNConfig, "iqn": IQNConfig, "ppo": PPOConfig},
    "schedule": {"off_policy": OffPolicySchedule, "on_policy": OnPolicySchedule},
    "hardware": {"hardware": HardwareConfig},
    "logger": {"logger": LoggerConfig},
}


def register_schemas() -> None:
    cs = ConfigStore.instance()
    cs.store(name="root_schema", node=RootConfig)
    for group, options in SCHEMAS.items():
        for name, node in options.items():
            cs.store(group=f"schema/{group}", name=name, node=node)


GROUPS = ("env", "network", "algo", "schedule", "hardware", "logger")


def to_run_config(cfg: DictConfig) -> RootConfig:
    """Turn the composed config into typed dataclasses, running every range check.

    Raises ConfigValueError naming the full key path (e.g. ``schedule.lr``).
    """
    root_fields = {f.name for f in fields(RootConfig)} - set(GROUPS)
    parts: dict[str, Any] = {}
    for group in GROUPS:
        node = cfg[group]
        try:
            parts[group] = OmegaConf.to_object(node)
        except ConfigValueError as err:
            raise err.prefixed(group) from None
        if not hasattr(parts[group], "__dataclass_fields__"):
            raise ConfigValueError(group, OmegaConf.to_container(node), "a config built on a schema in rlkit/config.py")
    scalars: dict[str, Any] = {}
    for key in root_fields & set(cfg.keys()):
        try:
            scalars[key] = OmegaConf.to_object(cfg[key]) if isinstance(cfg[key], DictConfig) else cfg[key]
        except ConfigValueError as err:
            raise err.prefixed(key) from None
    return RootConfig(**scalars, **parts)
