"""Episodic life is DeepMind's: a lost life ends the episode, the game goes on to its next life.

Breakout (5 lives, 0 at game over) on both pixel backends, sticky actions on, random actions:
one rollout per backend (module fixture), long enough for every sub-env to play a whole game
and start the next one. Each rollout takes a few seconds on 2 CPU cores.
"""

from __future__ import annotations

import numpy as np
import pytest

from rlkit.envs.atari import AtariEnvConfig
from rlkit.envs.atari import build_atari_env
from rlkit.episodes import EpisodeTracker
from rlkit.runner import TrainingEnvs

PIXEL_BACKENDS = ["ale_vector", "gymnasium_sync"]
BREAKOUT = dict(game="breakout", episodic_life=True, fire_reset=True, repeat_action_probability=0.25,
                noop_max=0, frame_stack=4, screen_size=84)
STEPS, NUM_ENVS, SEED = 450, 2, 7


def play(backend: str, steps: int = STEPS, **overrides) -> dict[str, np.ndarray]:
    """Reset with ``SEED`` and play the first ``steps`` of the ``STEPS`` random steps.

    Returns arrays ``[steps + 1, E, ...]`` of obs, reward, flags (``episode_end`` included), lives
    and the game's frame count (row 0: after the reset).
    """
    config = AtariEnvConfig(**{**BREAKOUT, **overrides})
    env = build_atari_env(config, NUM_ENVS, backend, 1)
    try:
        actions = np.random.default_rng(3).integers(0, env.spec.n_actions, size=(STEPS, NUM_ENVS))
        rows = {"obs": [env.reset(SEED)], "reward": [np.zeros(NUM_ENVS, np.float32)],
                "terminated": [np.zeros(NUM_ENVS, bool)], "truncated": [np.zeros(NUM_ENVS, bool)],
                "episode_end": [np.zeros(NUM_ENVS, bool)]}
        rows["lives"] = [np.array(env.last_info["lives"])]
        rows["frame"] = [np.array(env.last_info["episode_frame_number"])]
        for a in actions[:steps]:
            res = env.step(a)
            for key in ("obs", "reward", "terminated", "truncated", "episode_end"):
                rows[key].append(getattr(res, key))
            rows["lives"].append(np.array(env.last_info["lives"]))
            rows["frame"].append(np.array(env.last_info["episode_frame_number"]))
        return {key: np.stack(value) for key, value in rows.items()}
    finally:
        env.close()


@pytest.fixture(scope="module")
def rollouts() -> dict[str, dict[str, np.ndarray]]:
    return {backend: play(backend) for backend in PIXEL_BACKENDS}


@pytest.mark.parametrize("backend", PIXEL_BACKENDS)
def test_life_loss_terminates_and_the_game_goes_on(rollouts, backend):
    """Lives go 5, 4, 3, 2, 1 across life-loss terminations; the emulator resets only at game over.

    Per sub-env: every terminated step either lost one life (lives > 0) or ended the game
    (lives 0); the reset step after a life loss continues the same game (same lives, the game's
    frame counter runs on, the frame stack holds only the new episode's first frame), the reset
    step after a game over starts a fresh game (5 lives, frame counter back near 0). Only the game
    over is an ``episode_end``.
    """
    r = rollouts[backend]
    assert not r["truncated"].any()  # 450 steps stay far below the 108,000-frame cap
    for i in range(NUM_ENVS):
        lives, frame, done = r["lives"][:, i], r["frame"][:, i], r["terminated"][:, i]
        assert lives[0] == 5
        starts = [int(lives[0])]  # lives at each episode's first observation
        games = 0
        for t in range(1, STEPS + 1):
            if done[t - 1]:  # NEXT_STEP reset step: no reward, no flags, a fresh frame stack
                assert r["reward"][t, i] == 0 and not done[t] and not r["episode_end"][t, i], t
                assert (r["obs"][t, i, :-1] == 0).all(), t
                if lives[t - 1] > 0:  # after a life loss: the same game, next life
                    assert lives[t] == lives[t - 1] and frame[t] > frame[t - 1], t
                    starts.append(int(lives[t]))
                else:  # after the game over: a new game
                    assert lives[t] == 5 and frame[t] < frame[t - 1], t
                    assert starts == [5, 4, 3, 2, 1], starts
                    games += 1
                    starts = [5]
            else:  # a transition: the game runs on; it ends exactly when a life is lost
                assert frame[t] > frame[t - 1], t
                assert done[t] == (lives[t] < lives[t - 1]), t
                assert r["episode_end"][t, i] == (done[t] and lives[t] == 0), t  # the game over only
                assert lives[t] >= lives[t - 1] - 1, t
        assert games >= 1, f"sub-env {i} never finished a game in {STEPS} steps"
        assert len(starts) >= 2, f"sub-env {i} lost no life after its first game"


def test_backends_agree_across_life_losses(rollouts):
    """ale_vector and gymnasium_sync: identical obs, rewards, flags, lives and frame counts.

    Sticky actions are on, so this also checks that the reset steps after life losses play the
    same emulator frames (and random draws) on both backends.
    """
    a, g = rollouts["ale_vector"], rollouts["gymnasium_sync"]
    assert a["terminated"].sum() >= 2 * 5  # at least one whole game per sub-env
    life_lost = a["terminated"][:-1] & (a["lives"][:-1] > 0)  # [T, E]; the next row continues that game
    assert life_lost.sum() >= 2 * 4 and (a["lives"][1:][life_lost] < 5).all()
    for key in a:
        if key not in ("lives", "frame"):  # info arrays: int32 from C++, int64 from gymnasium
            assert a[key].dtype == g[key].dtype, key
        for t in range(STEPS + 1):
            np.testing.assert_array_equal(a[key][t], g[key][t], err_msg=f"row {t}: {key} differs")


def first_life_loss_step(backend: str) -> int:
    """The step (1-based) on which sub-env 0 first loses a life in ``play(backend)``'s game."""
    env = build_atari_env(AtariEnvConfig(**BREAKOUT), NUM_ENVS, backend, 1)
    try:
        actions = np.random.default_rng(3).integers(0, env.spec.n_actions, size=(STEPS, NUM_ENVS))
        env.reset(SEED)
        for t, a in enumerate(actions, start=1):
            if env.step(a).terminated[0]:
                return t
        raise AssertionError("no life lost")
    finally:
        env.close()


@pytest.mark.parametrize("extra_steps", [0, 1])
def test_frame_cap_counts_the_game_and_ends_it_after_a_life_loss(extra_steps):
    """A cap at the life-loss step (0) or at the restart step after it (1): the game is reset.

    The cap counts the game's frames across lives, the restart step's included; the reset step
    after a life loss whose game is at the cap returns a new game (5 lives). Both backends agree.
    """
    k = first_life_loss_step("gymnasium_sync")
    frame_skip = AtariEnvConfig(**BREAKOUT).frame_skip
    cap = (k + extra_steps) * frame_skip
    runs = {backend: play(backend, k + 3, max_episode_frames=cap) for backend in PIXEL_BACKENDS}
    for key in runs["ale_vector"]:
        for t in range(k + 4):
            np.testing.assert_array_equal(runs["ale_vector"][key][t], runs["gymnasium_sync"][key][t],
                                          err_msg=f"row {t}: {key} differs")
    r = runs["gymnasium_sync"]
    assert r["terminated"][k, 0] and not r["truncated"][k, 0] and r["lives"][k, 0] == 4  # the life loss
    # the game ends with the reset step after that life loss: there the whole episode ends (once)
    assert not r["episode_end"][k, 0] and r["episode_end"][k + 1, 0] and not r["episode_end"][k + 2:, 0].any()
    # the reset step: the restart step reached the cap (or the game was at it already): a new game
    assert r["lives"][k + 1, 0] == 5 and r["frame"][k + 1, 0] < r["frame"][k, 0]
    assert (r["obs"][k + 1, 0, :-1] == 0).all() and r["reward"][k + 1, 0] == 0
    assert not (r["terminated"][k + 1, 0] or r["truncated"][k + 1, 0])


class Recording:
    """A vector env that keeps what each step returned (the runner's TrainingEnvs steps it)."""

    def __init__(self, env) -> None:
        self.env, self.spec, self.num_envs, self.results = env, env.spec, env.num_envs, []

    def reset(self, seed: int) -> np.ndarray:
        return self.env.reset(seed)

    def step(self, actions: np.ndarray):
        self.results.append(self.env.step(actions))
        return self.results[-1]


@pytest.mark.parametrize("backend", PIXEL_BACKENDS + ["gymnasium_async"])
def test_training_episode_metrics_count_whole_games_while_each_lost_life_terminates(backend):
    """The runner's tracker records one episode per game: its return is the sum of its lives' returns,
    its length the sum of their lengths; learning still sees a termination at every lost life."""
    env = Recording(build_atari_env(AtariEnvConfig(**BREAKOUT), NUM_ENVS, backend, 1))
    tracker = EpisodeTracker(NUM_ENVS)
    envs = TrainingEnvs(env, tracker, total_env_steps=10**9)
    try:
        envs.reset(SEED)
        lives = []
        for a in np.random.default_rng(3).integers(0, env.spec.n_actions, size=(STEPS, NUM_ENVS)):
            step = envs.step(a)
            lives.append(np.array(env.env.last_info["lives"]))
    finally:
        env.env.close()
    terminated = np.stack([r.terminated for r in env.results])  # [T, E]
    reward = np.stack([r.reward for r in env.results])  # [T, E]
    lives = np.stack(lives)  # [T, E]
    assert step.is_reset_step.shape == (NUM_ENVS,) and not np.stack([r.truncated for r in env.results]).any()
    # the per-life episodes learning sees, then the games they make up (five lives each), in end order
    want_returns, want_lengths = [], []
    life_returns, life_lengths = [[] for _ in range(NUM_ENVS)], [[] for _ in range(NUM_ENVS)]
    running, length, after_end = np.zeros(NUM_ENVS), np.zeros(NUM_ENVS, np.int64), np.zeros(NUM_ENVS, bool)
    for t in range(STEPS):
        for i in range(NUM_ENVS):
            if after_end[i]:  # the NEXT_STEP reset step: no transition
                after_end[i] = False
                continue
            running[i] += reward[t, i]
            length[i] += 1
            if terminated[t, i]:
                life_returns[i].append(running[i])
                life_lengths[i].append(length[i])
                running[i], length[i], after_end[i] = 0.0, 0, True
                if lives[t, i] == 0:  # game over: the game's five lives
                    assert len(life_returns[i]) == 5
                    want_returns.append(sum(life_returns[i]))
                    want_lengths.append(sum(life_lengths[i]))
                    life_returns[i], life_lengths[i] = [], []
    assert terminated.sum() >= 5 * len(want_returns)  # every lost life terminated: 5 per game
    assert len(want_returns) >= NUM_ENVS and tracker.num_episodes == len(want_returns)
    assert list(tracker.recent_returns) == want_returns and list(tracker.recent_lengths) == want_lengths
    assert tracker.summary()["train/episode_return_mean"] == pytest.approx(np.mean(want_returns))
