"""Atari (ALE) vector envs: ``ale_py``'s C++ ``AtariVectorEnv`` or gymnasium vector envs.

Both backends give the same observations, rewards and episode boundaries for the same actions
(see ``GymnasiumAtariBackend``), so ``hardware.env_backend`` changes speed, not results:

* obs ``[E, frame_stack, screen_size, screen_size]`` uint8 grayscale (pixels) or
  ``[E, frame_stack, 128]`` uint8 console RAM (ram); newest frame last, zero frames before an
  episode's first observation.
* One agent step = ``frame_skip`` emulator frames with the same action (fewer only when the game
  ends within the step); sticky actions (``repeat_action_probability``) act per emulator frame
  inside the ALE.
* Pixel frames: grayscale via the ALE palette, optional max over the last two emulator frames of
  the step, then OpenCV ``INTER_AREA`` resizing (reimplemented here in numpy, pixel-identical).
* Rewards are the raw game score change summed over the step's frames (float32, never clipped).
* ``terminated``: game over, or a life lost with ``episodic_life``; ``truncated``: the game reached
  ``max_episode_frames`` emulator frames (counted from the end of its reset no-ops, across lives)
  on a step that did not terminate.
* ``episode_end``: the game ended: game over or truncation (a lost life is not one), or, on the
  reset step after a lost life, the restart step ended the game (see below). Training episode
  returns and lengths are counted over whole games, as evaluation's and DeepMind's are.
* NEXT_STEP autoreset; ``reset(seed)`` seeds sub-env i's ALE with ``seed + i``.

Frame cap: the step during which the game reaches ``max_episode_frames`` runs all its
``frame_skip`` frames and its final obs is pooled from its last two frames, as any other step's.
With a cap that is a multiple of ``frame_skip`` (the default 108,000 for frame skips 1 to 6) that
is ALE semantics exactly (the ALE stops at the cap frame, the step's last); otherwise the episode
runs up to ``frame_skip - 1`` frames past the cap, because ``AtariVectorEnv`` can neither stop a
step early at a frame of our choosing nor show us a frame it did not capture.

Episodic life (``episodic_life``) is DeepMind's (Mnih et al. 2015; baselines' ``EpisodicLifeEnv``):
the step that loses a life (the lives counter drops and stays above 0) is ``terminated``, so
learning does not bootstrap past it, but the game goes on: the emulator is reset only at game
over. The step loses no frames to it (the life loss does not cut the step short).

The NEXT_STEP reset step after an episode end that is not a game over (a life loss or the frame
cap) ignores the agent's action and plays one agent step of a fixed restart action on the current
game (FIRE with ``fire_reset`` where the action set has FIRE, else NOOP; as baselines'
``EpisodicLifeEnv.reset`` and ``FireResetEnv`` do):

* after a life loss it returns that step's obs of the continuing game (its next life), with a
  fresh frame stack (zero frames before it, as at any episode start);
* if that step ends the game, or the game is at the frame cap (always so after a truncation),
  the game is then reset and the reset step returns the new game's first obs instead.

Either way the reset step returns reward 0 (the restart step's score, if any, is dropped) and both
flags False, so the rest of rlkit stays right to treat it as no transition whose action is
ignored. The restart step is played even after a truncation because ``AtariVectorEnv`` steps every
sub-env on every call (its synchronous mode cannot leave one out), so the ``ale_vector`` backend
can only continue a game by stepping it and only reset one sub-env after stepping it; the
gymnasium backend plays the same frames so that the emulators, sticky-action random draws
included, stay identical on both backends. In the second case after a life loss the game ended
in the restart step, so that reset step carries the game's ``episode_end`` (the life-loss step
had no way to know).

No-op starts (``noop_max > 0``): the gymnasium backend plays U{1..noop_max} NOOP frames at reset
(DeepMind's count), ``AtariVectorEnv`` U{0..noop_max-1} (its C++ ``uniform_int_distribution(0,
noop_max - 1)``; ``noop_max=1`` plays none there), from different random generators: with
no-op starts the backends' episodes differ.

Backend choice (``hardware.env_backend``): ``auto`` = ``ale_vector`` for pixels (C++ threads,
fastest), ``gymnasium_sync`` for RAM (``AtariVectorEnv`` has no RAM observations).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from dataclasses import dataclass
from typing import Any

import ale_py
import gymnasium as gym
import numpy as np
from ale_py import roms
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import FrameStackObservation
from omegaconf import MISSING

from rlkit.config import ConfigValueError, EnvConfig, one_of, require
from rlkit.envs import ENVS
from rlkit.envs.base import EnvSpec, ProcessVectorEnv, SerialVectorEnv, StepResult, VecEnv

gym.register_envs(ale_py)

RAM_SIZE = 128  # bytes of Atari 2600 console RAM

_PIXEL_BACKENDS = ("ale_vector", "gymnasium_sync", "gymnasium_async")
_RAM_BACKENDS = ("gymnasium_sync", "gymnasium_async")


@dataclass
class AtariEnvConfig(EnvConfig):
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
    # end training (learning) episodes on life loss: terminated, so no bootstrap past it; the game goes on.
    # train/episode_* metrics still count whole games, as evaluation (which plays whole games) does
    episodic_life: bool = False
    # press FIRE after reset (games that need it to start). With episodic_life, training also presses it
    # at each new life (one restart step), as baselines'/CleanRL's FireResetEnv, which wraps
    # EpisodicLifeEnv, does; evaluation plays whole games and presses it at game start only, so there
    # the agent has to press FIRE after a lost life itself
    fire_reset: bool = False
    full_action_space: bool = False  # False = the game's minimal action set

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of("obs_type", self.obs_type, ("pixels", "ram"))
        require(self.frame_skip >= 1, "frame_skip", self.frame_skip, ">= 1")
        require(0.0 <= self.repeat_action_probability < 1.0, "repeat_action_probability",
                self.repeat_action_probability, "in [0, 1)")
        require(self.frame_stack >= 1, "frame_stack", self.frame_stack, ">= 1")
        require(self.screen_size >= 36, "screen_size", self.screen_size, ">= 36 (the Nature CNN needs it)")
        require(self.noop_max >= 0, "noop_max", self.noop_max, ">= 0")
        require(self.max_episode_frames > 0, "max_episode_frames", self.max_episode_frames, "> 0")

    def for_evaluation(self) -> "AtariEnvConfig":
        """Evaluation plays whole games: a lost life ends a training episode only (episodic_life)."""
        return dataclasses.replace(self, episodic_life=False)

    def without_chance(self) -> str | None:
        """The ALE draws at random only for sticky actions and no-op starts: without both, a reset
        seed changes nothing."""
        if self.repeat_action_probability == 0.0 and self.noop_max == 0:
            return "sticky actions are off (repeat_action_probability 0) and every game starts the same (noop_max 0)"
        return None


# ------------------------------------------------------------------------------------- naming


def _check_game(game: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # roms warns "Rom x not supported" before returning None
        path = roms.get_rom_path(game)
    if path is None:
        raise ConfigValueError("env.game", game, "an ALE ROM id in snake_case, e.g. boxing, pong, video_pinball")


def gymnasium_id(game: str) -> str:
    """The gymnasium v5 id of an ALE ROM id: ``"video_pinball"`` -> ``"ALE/VideoPinball-v5"``.

    Looked up in gymnasium's registry (by the ``game`` kwarg of the ``ALE/*-v5`` entries), so ids
    whose casing is irregular resolve too; falls back to CamelCase.
    """
    for env_id, spec in gym.registry.items():
        if env_id.startswith("ALE/") and env_id.endswith("-v5") and spec.kwargs.get("game") == game:
            return env_id
    return "ALE/" + "".join(part.capitalize() for part in game.split("_")) + "-v5"


def _env_id(config: AtariEnvConfig) -> str:
    return f"{gymnasium_id(config.game)} ({config.obs_type})"


# ----------------------------------------------------------------------------------- resizing


def _area_table(src_size: int, dst_size: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's ``computeResizeAreaTab`` (INTER_AREA, non-integer scale) for one axis.

    Returns ``(index [dst, K] int64, weight [dst, K] float32)``: output i is
    ``sum_k weight[i, k] * input[index[i, k]]`` with the terms added in k order, as OpenCV does;
    unused slots have weight 0 (adding an exact 0.0 leaves float32 sums unchanged).
    """
    scale = 1.0 / (dst_size / src_size)  # OpenCV: scale_x = 1. / inv_scale_x
    rows: list[list[tuple[int, float]]] = []
    for d in range(dst_size):
        f1 = d * scale
        f2 = f1 + scale
        cell = min(scale, src_size - f1)
        s1, s2 = math.ceil(f1), math.floor(f2)
        s2 = min(s2, src_size - 1)
        s1 = min(s1, s2)
        terms = []
        if s1 - f1 > 1e-3:
            terms.append((s1 - 1, (s1 - f1) / cell))
        terms.extend((s, 1.0 / cell) for s in range(s1, s2))
        if f2 - s2 > 1e-3:
            terms.append((s2, min(min(f2 - s2, 1.0), cell) / cell))
        rows.append(terms)
    k_max = max(len(t) for t in rows)
    index = np.zeros((dst_size, k_max), np.int64)
    weight = np.zeros((dst_size, k_max), np.float32)
    for d, terms in enumerate(rows):
        for k, (s, w) in enumerate(terms):
            index[d, k], weight[d, k] = s, np.float32(w)
    return index, weight


class AreaResize:
    """``cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)`` for uint8 grayscale, in numpy.

    Same float32 arithmetic in the same order as OpenCV's ``ResizeArea_Invoker`` (rows resampled
    horizontally, then combined vertically, rounded half to even), so frames match ``ale_py``'s
    ``AtariVectorEnv`` (which calls OpenCV) bit for bit. Only for downscaling (area averaging).
    """

    def __init__(self, src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> None:
        (sh, sw), (dh, dw) = src_hw, dst_hw
        if dh > sh or dw > sw:
            raise ValueError(f"AreaResize only downscales; got {src_hw} -> {dst_hw}")
        self.src_hw, self.dst_hw = src_hw, dst_hw
        self._yi, self._yw = _area_table(sh, dh)  # [dh, Ky]
        self._xi, self._xw = _area_table(sw, dw)  # [dw, Kx]
        self._yw_col = self._yw[:, :, None]  # [dh, Ky, 1], broadcasts over output columns

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """``frame [H, W]`` uint8 -> ``[h, w]`` uint8 (a new array)."""
        src = frame.astype(np.float32)  # [H, W]
        cols = src[:, self._xi]  # [H, w, Kx]
        buf = cols[:, :, 0] * self._xw[:, 0]  # [H, w]
        for k in range(1, self._xi.shape[1]):
            buf += cols[:, :, k] * self._xw[:, k]
        rows = buf[self._yi]  # [h, Ky, w]
        out = rows[:, 0] * self._yw_col[:, 0]  # [h, w]
        for k in range(1, self._yi.shape[1]):
            out += rows[:, k] * self._yw_col[:, k]
        return np.rint(out).astype(np.uint8)


# ------------------------------------------------------------------- single-env preprocessing


class AlePreprocessing(gym.Wrapper):
    """One ALE game with ``AtariVectorEnv``'s per-env logic, written in Python, plus what the
    ``ale_vector`` backend adds on top of it (see the module docstring).

    Wraps a gymnasium ALE env made with ``frameskip=1`` and ``max_num_frames_per_episode=0`` and
    drives its ``ALEInterface`` directly (this wrapper owns frame skip, the frame cap, no-op and
    FIRE starts, and episodic life). Mirrors ``ale_py/src/ale/vector/preprocessed_env.cpp``:

    * ``reset(seed)``: the ALE is seeded with ``seed`` itself (as ``AtariVectorEnv`` does, so sticky
      actions draw the same random numbers in both backends), the ROM reloaded, the game reset;
      then one FIRE frame if ``fire_reset`` and the action set has FIRE; then
      ``U{1..noop_max} - fire`` NOOP frames (DeepMind's count, drawn from this env's
      ``np_random``; ``AtariVectorEnv`` draws U{0..noop_max-1} from its C++ generator). The first
      obs is the resized reset screen.
    * ``step(a)``: ``frame_skip`` frames of action ``a``, fewer only at game over. Grayscale screens
      are captured from the step's last two frames; a game over stops the step before its screen
      is captured and keeps the screens of the previous step (the max-pool buffer is updated in
      place), exactly as ``AtariVectorEnv``: a terminal obs is never bootstrapped from.
      ``terminated`` at game over or (``episodic_life``) a life loss; ``truncated`` when the step
      brought the game to ``max_episode_frames`` frames and did not terminate; ``info["episode_end"]``
      at game over or truncation.
    * ``reset()`` (unseeded: the NEXT_STEP autoreset) after an episode that ended without a game
      over: one step of the restart action (FIRE with a FIRE start, else NOOP) on the current
      game; its obs continues the game (next life) unless the game is over or at the frame cap,
      in which case the game is reset as above (after a life loss its ``info["episode_end"]`` is
      then True: the game ended there). The frame count runs on across lives.

    Observations: ``[screen_size, screen_size]`` uint8 (grayscale) or ``[128]`` uint8 (ram: the
    RAM after the step's last emulated frame). Rewards: summed game score (int, unclipped).
    Info: ``lives``, ``episode_frame_number`` and ``frame_number`` (emulator frames), ``episode_end``.
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        obs_type: str,
        frame_skip: int,
        screen_size: int,
        max_pool: bool,
        noop_max: int,
        fire_reset: bool,
        episodic_life: bool,
        max_episode_frames: int,
    ) -> None:
        super().__init__(env)
        atari = env.unwrapped
        self._atari = atari
        self.ale: ale_py.ALEInterface = atari.ale
        self._action_set = list(atari._action_set)
        self._obs_type = obs_type
        self._frame_skip = frame_skip
        self._max_pool = max_pool
        self._noop_max = noop_max
        self._fire = fire_reset and ale_py.Action.FIRE in self._action_set
        self._restart_action = ale_py.Action.FIRE if self._fire else ale_py.Action.NOOP
        self._episodic_life = episodic_life
        self._max_frames = max_episode_frames
        self._elapsed_frames = max_episode_frames + 1  # emulator frames since the game's reset no-ops
        self._lives = 0
        self._game_goes_on = False  # the last episode ended (life loss, frame cap) but not its game
        self._life_ended = False  # the last episode ended at a lost life (episodic_life), not with its game
        if obs_type == "pixels":
            h, w = self.ale.getScreenDims()
            self._raw = np.zeros((2, h, w), np.uint8)  # [2, 210, 160]: screens of the last two frames
            self._resize = AreaResize((h, w), (screen_size, screen_size))
            self.observation_space = gym.spaces.Box(0, 255, (screen_size, screen_size), np.uint8)
        elif obs_type == "ram":
            self.observation_space = gym.spaces.Box(0, 255, (RAM_SIZE,), np.uint8)
        else:
            raise ValueError(f"obs_type must be pixels or ram, got {obs_type!r}")

    def _obs(self) -> np.ndarray:
        if self._obs_type == "ram":
            return self.ale.getRAM()  # [128] uint8, a fresh array
        if self._max_pool:
            np.maximum(self._raw[0], self._raw[1], out=self._raw[0])  # in place, as the C++ env
        return self._resize(self._raw[0])  # [S, S] uint8

    def _info(self, episode_end: bool) -> dict[str, int | bool]:
        ale = self.ale
        return {"lives": ale.lives(), "episode_frame_number": ale.getEpisodeFrameNumber(),
                "frame_number": ale.getFrameNumber(), "episode_end": episode_end}

    def _play(self, ale_action: ale_py.Action) -> tuple[int, bool]:
        """``frame_skip`` frames of ``ale_action`` (fewer at game over) -> (summed reward, game over).

        The C++ env's frame loop with its own episodic life and frame cap off (the ``ale_vector``
        backend handles both between steps): the screens of the last two frames are captured,
        except a game-over frame's (the loop stops before capturing it).
        """
        ale, raw = self.ale, (self._raw if self._obs_type == "pixels" else None)
        reward = 0
        game_over = False
        for skip_id in range(self._frame_skip, 0, -1):  # frame_skip .. 1; 1 = the step's last frame
            reward += ale.act(ale_action)
            self._elapsed_frames += 1
            game_over = ale.game_over(with_truncation=False)
            if game_over:
                break
            if raw is not None and skip_id <= 2:
                ale.getScreenGrayscale(raw[skip_id - 1])
        return reward, game_over

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        game_ended_here = False  # the restart step ended the game a lost life was to continue
        if seed is None and self._game_goes_on:  # restart step: continue the game if it may
            self._game_goes_on = False
            _, game_over = self._play(self._restart_action)  # its reward is dropped (a reset step)
            if not game_over and self._elapsed_frames < self._max_frames:
                self._lives = self.ale.lives()
                return self._obs(), self._info(episode_end=False)
            game_ended_here = self._life_ended
        self._game_goes_on = False
        self.env.reset(options=options)  # unseeded: only ale.reset_game() (a seeded one reloads the ROM)
        ale = self.ale
        if seed is not None:  # seed the ALE with the seed itself, as AtariVectorEnv does
            self._atari._np_random, _ = seeding.np_random(int(seed))  # no-op draws
            ale.setInt("random_seed", int(seed))
            self._atari.load_game()  # loadROM applies the seed (~0.1 s)
            ale.reset_game()
        if self._fire:
            ale.act(ale_py.Action.FIRE)
        noops = int(self.np_random.integers(1, self._noop_max + 1)) if self._noop_max > 0 else 0
        for _ in range(noops - int(self._fire)):
            ale.act(ale_py.Action.NOOP)
            if ale.game_over(with_truncation=False):
                ale.reset_game()
        if self._obs_type == "pixels":
            ale.getScreenGrayscale(self._raw[0])
            self._raw[1].fill(0)
        self._elapsed_frames = 0
        self._lives = ale.lives()
        return self._obs(), self._info(episode_end=game_ended_here)

    def step(self, action):
        reward, game_over = self._play(self._action_set[int(action)])
        lives = self.ale.lives()
        life_lost = 0 < lives < self._lives  # as the C++ env: a loss to 0 lives is the game over
        self._lives = lives
        terminated = game_over or (self._episodic_life and life_lost)
        truncated = self._elapsed_frames >= self._max_frames and not terminated
        self._game_goes_on = (terminated or truncated) and not game_over
        self._life_ended = terminated and not game_over
        return self._obs(), reward, terminated, truncated, self._info(episode_end=game_over or truncated)


def make_single_atari_env(config: AtariEnvConfig) -> gym.Env:
    """One preprocessed, frame-stacked ALE env: obs ``[frame_stack, *frame_shape]`` uint8."""
    base = gym.make(
        gymnasium_id(config.game),
        obs_type="ram" if config.obs_type == "ram" else "grayscale",
        frameskip=1,  # AlePreprocessing repeats the action
        repeat_action_probability=config.repeat_action_probability,  # per emulator frame
        full_action_space=config.full_action_space,
        max_num_frames_per_episode=0,  # 0 = no ALE cap; AlePreprocessing truncates
    )
    env = AlePreprocessing(
        base,
        obs_type=config.obs_type,
        frame_skip=config.frame_skip,
        screen_size=config.screen_size,
        max_pool=config.max_pool,
        noop_max=config.noop_max,
        fire_reset=config.fire_reset,
        episodic_life=config.episodic_life,
        max_episode_frames=config.max_episode_frames,
    )
    return FrameStackObservation(env, config.frame_stack, padding_type="zero")


# ------------------------------------------------------------------------------------ backends


# AtariVectorBackend._ended: how a sub-env's last step ended (the game goes on after a lost life or the cap)
_RUNNING, _GAME_OVER, _LIFE_LOST, _TRUNCATED = 0, 1, 2, 3


def _how_ended(game_over: np.ndarray, terminated: np.ndarray, truncated: np.ndarray) -> np.ndarray:
    """[E] int8 ``_ended`` codes from a step's flags [E] bool (terminated without a game over: a lost life)."""
    return np.select([game_over, terminated, truncated], [_GAME_OVER, _LIFE_LOST, _TRUNCATED],
                     _RUNNING).astype(np.int8)


class AtariVectorBackend:
    """``ale_py.vector_env.AtariVectorEnv`` (C++ threads) behind the ``VecEnv`` interface. Pixels only.

    Every ``AtariVectorEnv`` setting is passed explicitly (its defaults differ from ALE v5: e.g.
    ``repeat_action_probability=0``, ``reward_clipping=True``, ``noop_max=30``); reward clipping is
    always off here (training-time clipping belongs to the algorithm; logged returns stay raw).

    Episodic life and the frame cap are done here, between C++ steps, because the C++ env's own
    options for them have other semantics (ale_py 0.12.1, ``preprocessed_env.cpp``):

    * ``episodic_life=True`` there stops the step at the life loss and resets the whole game on
      the next step (a new game per life, not DeepMind's); ``life_loss_info=True`` flags the life
      loss without a reset, but its next step is an ordinary step of the agent's action and its
      ``terminated`` merges game over with life loss, so we could not tell whether the C++ env
      resets the game on its next step. Both are off: the C++ env only plays the game
      (``terminated`` = game over), and the life loss is read from ``info["lives"]`` the way the
      C++ env computes it (fewer lives than after the previous step, and more than 0).
    * Its frame cap stops the frame loop at the cap frame before capturing that frame's screen,
      so its final obs reuses screens of the step before (even for a cap at a step's last frame).
      Its cap is put out of reach (``max_episode_frames + 2 * frame_skip``: a game here plays at
      most ``frame_skip - 1`` frames past the cap, then the restart step, before it is reset); this
      backend counts the game's frames and truncates at the end of the step that reaches
      ``max_episode_frames``, whose obs is pooled as any other step's.

    The NEXT_STEP reset step is then this backend's (the module docstring says what it returns):
    after a game over the C++ env resets the game itself (it ignores the action); after a life
    loss or a truncation the sub-env gets the restart action, and if that step ends the game or
    the game is at the frame cap, the sub-env is reset at once with ``reset_mask`` (a second C++
    call, only on such steps). Frames of an earlier episode of the same game that the C++ frame
    stack still holds are zeroed. When a restart step after a life loss ends the game, that reset
    step is the game's ``episode_end``.
    """

    def __init__(self, config: AtariEnvConfig, num_envs: int, num_threads: int) -> None:
        if config.obs_type != "pixels":
            raise _ram_backend_error("ale_vector")
        _check_game(config.game)
        from ale_py.vector_env import AtariVectorEnv

        self.num_envs = num_envs
        self.settings: dict[str, Any] = dict(  # what AtariVectorEnv was built with, for inspection
            game=config.game,
            num_envs=num_envs,
            num_threads=num_threads,
            repeat_action_probability=config.repeat_action_probability,
            frameskip=config.frame_skip,
            stack_num=config.frame_stack,
            img_height=config.screen_size,
            img_width=config.screen_size,
            grayscale=True,
            maxpool=config.max_pool,
            noop_max=config.noop_max,
            episodic_life=False,  # done here (DeepMind's); see the class docstring
            life_loss_info=False,
            use_fire_reset=config.fire_reset,
            reward_clipping=False,
            max_num_frames_per_episode=config.max_episode_frames + 2 * config.frame_skip,  # never reached
            full_action_space=config.full_action_space,
            continuous=False,
            batch_size=0,  # synchronous: every step returns all envs
            autoreset_mode=AutoresetMode.NEXT_STEP,
        )
        self.env = AtariVectorEnv(**self.settings)
        self.spec = EnvSpec(
            env_id=_env_id(config),
            obs_shape=(config.frame_stack, config.screen_size, config.screen_size),
            obs_dtype=np.dtype(np.uint8),
            frame_stack=config.frame_stack,
            n_actions=int(self.env.single_action_space.n),
            frames_per_env_step=config.frame_skip,
        )
        self.episodic_life = config.episodic_life
        self.max_episode_frames = config.max_episode_frames
        action_set = list(self.env.ale.get_action_set())
        fire = config.fire_reset and ale_py.Action.FIRE in action_set
        self._restart_action = action_set.index(ale_py.Action.FIRE if fire else ale_py.Action.NOOP)
        self._order = np.arange(num_envs, dtype=np.int32)
        self._frames = np.zeros(num_envs, np.int64)  # [E] emulator frames since the game's reset no-ops
        self._lives = np.zeros(num_envs, np.int64)  # [E] lives after the last step
        self._age = np.ones(num_envs, np.int64)  # [E] obs of the current episode so far (1 = its first)
        self._ended = np.full(num_envs, _RUNNING, np.int8)  # [E] how the last step ended
        self.last_info: dict[str, np.ndarray] = {}

    def _in_env_order(self, info: dict[str, np.ndarray], *arrays: np.ndarray) -> list[np.ndarray]:
        env_id = info.get("env_id")
        if env_id is None or (env_id == self._order).all():
            return list(arrays)
        inverse = np.argsort(env_id)  # results came back in completion order
        for key, value in info.items():
            info[key] = value[inverse]
        return [a[inverse] for a in arrays]

    def reset(self, seed: int) -> np.ndarray:
        """Reset all envs; env i's ALE gets seed ``seed + i``. Returns obs ``[E, stack, S, S]`` uint8."""
        obs, info = self.env.reset(seed=int(seed))
        (obs,) = self._in_env_order(info, obs)
        self.last_info = info
        self._frames[:] = 0
        self._lives[:] = info["lives"]
        self._age[:] = 1
        self._ended[:] = _RUNNING
        return obs

    def step(self, actions: np.ndarray) -> StepResult:
        """``actions [E]`` ints (indices into the action set) -> obs, float32 rewards, bool flags.

        Most steps restart no sub-env and end no episode: those skip the restart bookkeeping
        (``_restart_step``), two dozen numpy calls on [E] arrays that every vector step would pay."""
        actions = np.array(actions, dtype=np.int64)  # [E], a copy: reset steps get the restart action
        restart = self._ended != _RUNNING  # [E] NEXT_STEP reset steps
        restarting = bool(restart.any())
        if restarting:
            actions[restart] = self._restart_action
        obs, reward, game_over, _, info = self.env.step(actions)
        obs, reward, game_over = self._in_env_order(info, obs, reward, game_over)
        game_over = game_over.astype(bool)  # [E] the C++ env's terminated: game over only
        lives = info["lives"].astype(np.int64)  # [E]
        if restarting:
            terminated, truncated, episode_end = self._restart_step(restart, obs, game_over, lives, info)
        else:
            self._frames += self.spec.frames_per_env_step
            terminated = game_over | ((lives > 0) & (lives < self._lives)) if self.episodic_life else game_over  # [E]
            truncated = (self._frames >= self.max_episode_frames) & ~terminated  # [E]
            episode_end = game_over | truncated  # [E] a lost life ends no game
            self._age += 1
            if terminated.any() or truncated.any():  # game over is terminated too
                self._ended = _how_ended(game_over, terminated, truncated)
        self._lives = lives
        if self._age.min() < self.spec.frame_stack:  # some episode began less than a stack ago
            stale = np.arange(self.spec.frame_stack) < (self.spec.frame_stack - self._age)[:, None]  # [E, stack]
            obs[stale] = 0  # frames from before the episode's first obs (a life loss leaves them in the C++ stack)
        reward = np.where(restart, 0, reward).astype(np.float32) if restarting else reward.astype(np.float32)
        self.last_info = info
        return StepResult(obs, reward, terminated, truncated, episode_end)

    def _restart_step(self, restart: np.ndarray, obs: np.ndarray, game_over: np.ndarray, lives: np.ndarray,
                      info: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The bookkeeping of a step in which some sub-envs (``restart [E]``) play their NEXT_STEP
        reset step: frame counts, episode ends, resets at game over or the cap (obs, info and
        ``lives`` updated in place), episode ages. Returns terminated, truncated, episode_end [E]."""
        reset_by_cpp = self._ended == _GAME_OVER  # the C++ env reset these itself, ignoring the action
        self._frames = np.where(reset_by_cpp, 0, self._frames + self.spec.frames_per_env_step)
        at_cap = self._frames >= self.max_episode_frames  # [E]
        life_lost = (lives > 0) & (lives < self._lives)
        terminated = ~restart & (game_over | (self.episodic_life & life_lost))
        truncated = ~restart & at_cap & ~terminated
        reset_here = restart & ~reset_by_cpp & (game_over | at_cap)  # the restart step ended this game
        # a game ends at a transition's game over or truncation, or in the restart step after a lost life
        episode_end = (~restart & (game_over | truncated)) | (reset_here & (self._ended == _LIFE_LOST))  # [E]
        if reset_here.any():
            fresh_obs, fresh_info = self.env.reset(options={"reset_mask": reset_here})
            (fresh_obs,) = self._in_env_order(fresh_info, fresh_obs)
            obs[reset_here] = fresh_obs[reset_here]
            for key, value in fresh_info.items():
                info[key][reset_here] = value[reset_here]
            lives[reset_here] = fresh_info["lives"][reset_here]
            self._frames[reset_here] = 0
        self._ended = _how_ended(~restart & game_over, terminated, truncated)
        self._age = np.where(restart, 1, self._age + 1)
        return terminated, truncated, episode_end

    def close(self) -> None:
        self.env.close()


class GymnasiumAtariBackend:
    """``SerialVectorEnv`` (in this process) / ``ProcessVectorEnv`` (gymnasium's AsyncVectorEnv) of
    ``make_single_atari_env`` (pixels or RAM).

    Same semantics as ``AtariVectorBackend`` for pixels: with the same seed and actions both give
    identical observations, rewards and flags (sticky actions included: each ALE is seeded with
    ``seed + i`` the same way, and both play the same restart steps), except that ``noop_max > 0``
    draws different no-op counts (from 1..noop_max here, 0..noop_max-1 there).
    """

    def __init__(self, config: AtariEnvConfig, num_envs: int, asynchronous: bool = False) -> None:
        _check_game(config.game)
        self.num_envs = num_envs
        env_fns = [functools.partial(make_single_atari_env, config)] * num_envs
        self.env = ProcessVectorEnv(env_fns, shared_memory=True) if asynchronous else SerialVectorEnv(env_fns)
        frame_shape = (RAM_SIZE,) if config.obs_type == "ram" else (config.screen_size, config.screen_size)
        self.spec = EnvSpec(
            env_id=_env_id(config),
            obs_shape=(config.frame_stack, *frame_shape),
            obs_dtype=np.dtype(np.uint8),
            frame_stack=config.frame_stack,
            n_actions=int(self.env.single_action_space.n),
            frames_per_env_step=config.frame_skip,
        )
        assert self.env.single_observation_space.shape == self.spec.obs_shape
        self.episodic_life = config.episodic_life

    @property
    def last_info(self) -> dict[str, Any]:
        """The last step's info, merged over envs."""
        return self.env.last_info

    def reset(self, seed: int) -> np.ndarray:
        """Reset all envs; env i's ALE gets seed ``seed + i``. Returns obs ``[E, stack, *frame_shape]`` uint8."""
        return self.env.reset(seed)

    def step(self, actions: np.ndarray) -> StepResult:
        """``actions [E]`` ints (indices into the action set) -> obs, float32 rewards, bool flags."""
        result = self.env.step(np.asarray(actions, dtype=np.int64))
        if not self.episodic_life:  # every episode is a game: the vector env's terminated | truncated
            return result
        # a lost life is terminated but ends no game; each env reports its games' ends in its info
        return result._replace(episode_end=np.asarray(self.env.last_info["episode_end"], dtype=bool))

    def close(self) -> None:
        self.env.close()


# ------------------------------------------------------------------------------------- builder


def _ram_backend_error(backend: str) -> ConfigValueError:
    return ConfigValueError(
        "hardware.env_backend", backend,
        "with env.obs_type=ram one of auto, gymnasium_sync, gymnasium_async "
        "(ale_vector has no RAM observations; it allows env.obs_type=pixels only)")


def resolve_backend(config: AtariEnvConfig, backend: str) -> str:
    """``auto`` -> ``ale_vector`` (pixels) or ``gymnasium_sync`` (ram); checks explicit choices."""
    allowed = _RAM_BACKENDS if config.obs_type == "ram" else _PIXEL_BACKENDS
    if backend == "auto":
        return allowed[0]
    if backend not in allowed:
        if backend == "ale_vector":
            raise _ram_backend_error(backend)
        raise ConfigValueError("hardware.env_backend", backend, "one of auto, " + ", ".join(allowed))
    return backend


@ENVS.register("atari", schema=AtariEnvConfig)
def build_atari_env(config: AtariEnvConfig, num_envs: int, backend: str, env_threads: int) -> VecEnv:
    """Build ``num_envs`` Atari envs on ``backend`` (``hardware.env_backend``).

    ``env_threads``: worker threads of ``ale_vector`` (ignored by the gymnasium backends; async
    uses one process per env).
    """
    backend = resolve_backend(config, backend)
    if backend == "ale_vector":
        return AtariVectorBackend(config, num_envs, num_threads=env_threads)
    return GymnasiumAtariBackend(config, num_envs, asynchronous=backend == "gymnasium_async")
