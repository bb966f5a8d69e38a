"""Videos of evaluation episodes: the env's RGB frames, optionally with the agent's panel beside them.

Frames come from one env of the run's task on a gymnasium backend, through the env family's
``FRAME_SOURCES`` entry:

* Atari: the ALE screen (``ale.getScreenRGB()``, 210 x 160), scaled 3x; one frame per agent step
  (every ``frame_skip`` emulator frames), played at 60 / frame_skip fps: real time.
* gymnasium ids: MuJoCo's offscreen renderer (480 x 480, the task's own camera) at the task's
  render fps; other ids through ``render_mode="rgb_array"`` (classic control needs pygame).

MuJoCo renders offscreen without a display through EGL: ``MUJOCO_GL=egl`` is set unless the
environment already sets MUJOCO_GL. Mesa's EGL renders on the CPU (llvmpipe) where there is no
GPU (Debian/Ubuntu: ``apt-get install libegl1 libgl1-mesa-dri``); OSMesa is the other software
path (``apt-get install libosmesa6``, then ``MUJOCO_GL=osmesa``, which also needs PyOpenGL).

MP4s are H.264 (yuv420p) written by imageio's ffmpeg plugin; the ffmpeg binary comes with the
``imageio-ffmpeg`` package (a dependency of rlkit). An episode of L steps is L + 1 frames: its
first observation, then the one after each step (the last is the final state). Beside each
video ``<name>.panel.npz`` holds the numbers each frame's panel drew (one row per frame).
"""

from __future__ import annotations

import os
import platform
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rlkit.panels import Panel, PanelDrawer, compose_frame
from rlkit.registry import Registry

ATARI_SCALE = 3  # the 210 x 160 screen shown at 630 x 480
PANEL_WIDTH_PX = 560
VIDEO_QUALITY = 8  # imageio's 0-10 variable-bitrate scale: 8 keeps the panel's text crisp


class VideoError(RuntimeError):
    """A video cannot be made here (no encoder, no renderer); the message says what to install."""


@dataclass
class FrameSource:
    """The RGB frame of sub-env 0 of a single-env VecEnv, and what to label its actions with."""

    rgb: Callable[[], np.ndarray]  # () -> [H, W, 3] uint8, the env's current frame
    fps: float  # playback frames per second (real time where the env has a clock)
    action_names: list[str] | None  # one name per discrete action or action dimension
    scale: int = 1  # nearest-neighbour upscaling of the frame in the video


FRAME_SOURCES: Registry = Registry("frame_source")  # env family name -> (VecEnv of 1 env) -> FrameSource


def _sub_env(envs: Any):
    vector = getattr(envs, "env", None)
    if vector is None or not hasattr(vector, "envs"):
        raise VideoError(f"videos need a single gymnasium-backend env; got {type(envs).__name__}")
    return vector.envs[0]


@FRAME_SOURCES.register("atari")
def atari_frames(envs: Any) -> FrameSource:
    env = _sub_env(envs).unwrapped
    frames_per_step = envs.spec.frames_per_env_step
    return FrameSource(rgb=lambda: env.ale.getScreenRGB(), fps=60.0 / frames_per_step,
                       action_names=list(env.get_action_meanings()), scale=ATARI_SCALE)


def use_offscreen_gl() -> None:
    """MuJoCo renders offscreen through EGL unless MUJOCO_GL says otherwise (Linux only: macOS
    and Windows have their own default)."""
    if platform.system() == "Linux":
        os.environ.setdefault("MUJOCO_GL", "egl")


def _actuator_name(model: Any, index: int) -> str:
    """The actuator's name, else the joint it drives (Hopper's motors are unnamed), else its index."""
    actuator = model.actuator(index)
    if actuator.name:
        return actuator.name
    import mujoco

    if int(actuator.trntype[0]) == int(mujoco.mjtTrn.mjTRN_JOINT) and actuator.trnid[0] >= 0:
        joint = model.joint(int(actuator.trnid[0])).name
        if joint:
            return joint
    return f"actuator {index}"


@FRAME_SOURCES.register("gym")
def gym_frames(envs: Any) -> FrameSource:
    env = _sub_env(envs).unwrapped
    fps = float(env.metadata.get("render_fps") or 30)
    renderer = getattr(env, "mujoco_renderer", None)
    if renderer is not None:  # MuJoCo: the task's offscreen renderer, whatever render_mode it was made with
        use_offscreen_gl()
        names = [_actuator_name(env.model, i) for i in range(env.model.nu)]

        def rgb() -> np.ndarray:
            try:
                return renderer.render("rgb_array")
            except Exception as err:  # noqa: BLE001 - GL missing: say what to install
                raise VideoError(
                    f"MuJoCo offscreen rendering failed with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}"
                    f" ({type(err).__name__}: {err}); install Mesa's EGL (apt-get install libegl1 libgl1-mesa-dri)"
                    " or OSMesa (apt-get install libosmesa6, then MUJOCO_GL=osmesa)") from err
        return FrameSource(rgb=rgb, fps=fps, action_names=names)
    env.render_mode = "rgb_array"  # classic control reads it at render time

    def rgb() -> np.ndarray:
        try:
            frame = env.render()
        except Exception as err:  # noqa: BLE001 - e.g. pygame missing for classic control
            raise VideoError(f"{env.spec.id if env.spec else type(env).__name__} cannot render frames here"
                             f" ({type(err).__name__}: {err})") from err
        if frame is None:
            raise VideoError(f"{type(env).__name__} renders no rgb_array frames")
        return frame
    return FrameSource(rgb=rgb, fps=fps, action_names=None)


def open_writer(path: Path, fps: float):
    """An imageio ffmpeg writer for an H.264 MP4 (even frame sides: compose_frame makes them so)."""
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (the ffmpeg binary)
    except ImportError as err:
        raise VideoError(f"video=true needs imageio-ffmpeg ({err}); install it: pip install imageio-ffmpeg") from None
    return imageio.get_writer(str(path), format="FFMPEG", mode="I", fps=fps, codec="libx264",
                              quality=VIDEO_QUALITY, pixelformat="yuv420p", macro_block_size=2,
                              ffmpeg_log_level="error")


def stack_panels(panels: list[Panel]) -> dict[str, np.ndarray]:
    """The numeric fields of a list of panel records, stacked: ``{field: [T, ...]}``."""
    if not panels:
        return {}
    out = {}
    for f in fields(panels[0]):
        values = [getattr(p, f.name) for p in panels]
        if all(v is None for v in values) or isinstance(values[0], str):
            continue
        out[f.name] = np.stack([np.asarray(v) for v in values])
    out["kind"] = np.array(type(panels[0]).__name__)
    return out


@dataclass
class RecordedEpisode:
    path: Path
    frames: int = 0
    panels: list[Panel] = field(default_factory=list)  # one per frame, with panel=true
    obs: list[np.ndarray] = field(default_factory=list)  # one per frame, with keep_obs=true


class EpisodeRecorder:
    """Writes one MP4 per episode of sub-env 0 (``<directory>/<prefix>_ep<i>.mp4``); with a panel
    drawer each frame shows the policy's numbers beside the env's frame."""

    def __init__(self, source: FrameSource, directory: Path, prefix: str, panel: bool,
                 max_episodes: int | None = None, keep_obs: bool = False) -> None:
        self.source, self.directory, self.prefix = source, Path(directory), prefix
        self.panel = panel
        self.max_episodes = max_episodes
        self.keep_obs = keep_obs
        self.episodes: list[RecordedEpisode] = []
        self._writer = None
        self._drawer: PanelDrawer | None = None

    @property
    def recording(self) -> bool:
        return self._writer is not None

    def start_episode(self) -> None:
        self.end_episode()
        if self.max_episodes is not None and len(self.episodes) >= self.max_episodes:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.prefix}_ep{len(self.episodes):03d}.mp4"
        self._writer = open_writer(path, self.source.fps)
        self.episodes.append(RecordedEpisode(path))

    def frame(self, obs: np.ndarray, panel: Panel | None, caption: str) -> None:
        """Add the env's current frame (sub-env 0, whose observation is ``obs [*obs_shape]``)."""
        if self._writer is None:
            return
        rgb = np.asarray(self.source.rgb(), dtype=np.uint8)  # [H, W, 3]
        panel_image = None
        if self.panel and panel is not None:
            if self._drawer is None:
                self._drawer = PanelDrawer(rgb.shape[0] * self.source.scale, PANEL_WIDTH_PX, self.source.action_names)
            panel_image = self._drawer.draw(panel, caption)
            self.episodes[-1].panels.append(panel)
        self._writer.append_data(compose_frame(rgb, panel_image, self.source.scale))
        if self.keep_obs:
            self.episodes[-1].obs.append(np.array(obs))
        self.episodes[-1].frames += 1

    def end_episode(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        episode = self.episodes[-1]
        if episode.panels:
            np.savez_compressed(episode.path.with_suffix(".panel.npz"), **stack_panels(episode.panels))

    def close(self) -> None:
        self.end_episode()

    def abandon_episode(self) -> None:
        """Close and delete the episode being written, if any (after a failure or an interrupt); the
        finished episodes' videos and panels stay."""
        if self._writer is None:
            return
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 - an encoder that failed mid-file
            pass
        self._writer = None
        episode = self.episodes.pop()
        episode.path.unlink(missing_ok=True)
        episode.path.with_suffix(".panel.npz").unlink(missing_ok=True)
        try:
            self.directory.rmdir()  # only when nothing else is in it
        except OSError:
            pass


def build_frame_source(env_family: str, envs: Any) -> FrameSource:
    if env_family not in FRAME_SOURCES:
        raise VideoError(f"no video frames for env family {env_family!r} (known: {', '.join(FRAME_SOURCES.names())})")
    return FRAME_SOURCES.get(env_family)(envs)


class PeriodicVideo:
    """``logger.video_interval_env_steps``: at each multiple of the interval, one evaluation episode
    of the current agent, recorded (with its panel if ``logger.video_panel``) under
    ``<run dir>/videos/`` and logged to W&B as media (``eval/video``) when W&B is on.

    The episode acts with the run's evaluation policy on its own random streams (seeded from the
    run's seed and the env step) and a separate env, so recording changes neither training nor
    the logged evaluations."""

    def __init__(self, run: Any, agent: Any, run_dir: Path, wandb: Any, start_env_step: int = 0) -> None:
        from rlkit.schedules import next_multiple

        self.run, self.agent, self.run_dir, self.wandb = run, agent, Path(run_dir), wandb
        self.interval = run.logger.video_interval_env_steps
        self.next_env_step = next_multiple(start_env_step, self.interval)
        self.envs = None
        self.written: list[Path] = []

    def maybe_record(self, env_step: int) -> Path | None:
        if env_step < self.next_env_step:
            return None
        from rlkit.schedules import next_multiple

        self.next_env_step = next_multiple(env_step, self.interval)
        try:
            path = self.record(env_step)
        except VideoError as err:  # a missing renderer must not end a training run
            warnings.warn(f"periodic video skipped: {err}")
            self.interval = 10**18  # and not tried again
            self.next_env_step = 10**18
            return None
        self.written.append(path)
        self.wandb.log_video(env_step, "eval/video", path)
        return path

    def record(self, env_step: int) -> Path:
        from rlkit import seeding
        from rlkit.eval_policies import PolicyChoice, build_policy
        from rlkit.evaluate import play_episodes, video_envs

        if self.envs is None:
            self.envs = video_envs(self.run, self.run.env.for_evaluation())
        policy = build_policy(self.agent, self.run, self.envs.spec, PolicyChoice(),
                              seed=seeding.derive_seed(self.run.seed, f"video_{env_step}"))
        recorder = EpisodeRecorder(build_frame_source(self.run.env.name, self.envs), self.run_dir / "videos",
                                   f"train_{env_step:012d}", panel=self.run.logger.video_panel, max_episodes=1)
        play_episodes(self.envs, policy, 1, seeding.derive_seed(self.run.seed, f"video_env_{env_step}"), recorder)
        return recorder.episodes[0].path

    def close(self) -> None:
        if self.envs is not None:
            self.envs.close()
            self.envs = None
