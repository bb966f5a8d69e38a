"""The evaluation pieces without a trained run: panels draw the numbers they are given, frames
compose to even sides, the evaluation-start snapshot restores exactly what an evaluation changed,
play_episodes plays what run_episodes plays, and the settings, W&B video and TensorBoard edges."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from rlkit.config import ConfigValueError
from rlkit.episodes import run_episodes
from rlkit.eval_start import changed_leaves, with_leaves
from rlkit.evaluate import parse_settings, play_episodes
from rlkit.logging import TensorBoardSink, WandbSink
from rlkit.panels import (BAR, CHOSEN, ActionValuesPanel, GaussianPanel, PanelDrawer, QuantilesPanel,
                          compose_frame)
from rlkit.video import stack_panels
from tests.unit.test_runner import FakeEnvs

NAMES = ["NOOP", "FIRE", "UP", "RIGHT", "LEFT", "DOWN"]


def _row_centres(drawer: PanelDrawer, count: int) -> list[int]:
    tops, row = drawer._rows(count)
    return [int(top + row / 2) for top in tops]


def _bar_pixels(image: np.ndarray, y: int, colour) -> int:
    """Pixels of ``colour`` on row ``y`` of the bar area (between the names and the numbers)."""
    area = image[y, PanelDrawer.LABEL_PX + 1: image.shape[1] - PanelDrawer.VALUE_PX]
    return int(np.all(area == np.array(colour, np.uint8), axis=1).sum())


def test_q_value_bars_are_ordered_as_the_q_values_and_the_chosen_one_is_orange():
    q = np.array([0.5, 2.0, -1.0, 1.2, 0.0, 1.9], np.float32)
    drawer = PanelDrawer(630, 560, NAMES)
    image = drawer.draw(ActionValuesPanel("Q-values; greedy", q, chosen=1), "step 3   return 0")
    assert image.shape == (630, 560, 3) and image.dtype == np.uint8
    centres = _row_centres(drawer, len(q))
    lengths = [_bar_pixels(image, y, CHOSEN if i == 1 else BAR) for i, y in enumerate(centres)]
    assert _bar_pixels(image, centres[1], BAR) == 0 and lengths[1] > 0  # the chosen bar: orange, not blue
    assert np.argsort(lengths).tolist() == np.argsort(q).tolist()
    # bar length is affine in Q: the axis runs from min - 25 % of the span to max + 2 %
    span = q.max() - q.min()
    expected = (q - (q.min() - 0.25 * span)) / (1.27 * span)
    np.testing.assert_allclose(np.array(lengths) / max(lengths), expected / expected.max(), atol=0.02)


def test_boltzmann_bars_are_the_probabilities_on_a_unit_axis():
    q = np.array([1.0, 0.0, 0.5], np.float32)
    probabilities = np.exp(q) / np.exp(q).sum()
    drawer = PanelDrawer(300, 560, ["a", "b", "c"])
    image = drawer.draw(ActionValuesPanel("p", q, chosen=2, probabilities=probabilities))
    full = drawer._x(np.array([1.0]), 0.0, 1.0)[0] - drawer._x(np.array([0.0]), 0.0, 1.0)[0]
    centres = _row_centres(drawer, 3)
    lengths = [_bar_pixels(image, y, CHOSEN if i == 2 else BAR) for i, y in enumerate(centres)]
    np.testing.assert_allclose(np.array(lengths) / full, probabilities, atol=2.5 / full)


def test_quantile_and_gaussian_panels_mark_the_chosen_action():
    rng = np.random.default_rng(0)
    quantiles = np.sort(rng.normal(size=(32, 4)), axis=0).astype(np.float32)
    drawer = PanelDrawer(400, 560, None)
    image = drawer.draw(QuantilesPanel("Z", (np.arange(32) + 0.5) / 32, quantiles, quantiles.mean(0), chosen=3))
    centres = _row_centres(drawer, 4)
    assert [_bar_pixels(image, y, CHOSEN) > 0 for y in centres] == [False, False, False, True]
    panel = GaussianPanel("g", np.array([0.5, -0.2], np.float32), np.array([0.1, 0.3], np.float32),
                          np.array([1.5, -0.6], np.float32), np.array([-3.0, -3.0]), np.array([3.0, 3.0]),
                          center=np.zeros(2, np.float32), half_range=np.full(2, 3.0, np.float32))
    lower, upper = panel.interval_in_env_units(1.0)
    np.testing.assert_allclose(panel.to_env_units(panel.mean), [1.5, -0.6], rtol=1e-6)
    np.testing.assert_allclose(lower, [1.2, -1.5], rtol=1e-6)
    np.testing.assert_allclose(upper, [1.8, 0.3], rtol=1e-6)
    image = PanelDrawer(300, 560, ["hip", "knee"]).draw(panel)
    assert image.shape == (300, 560, 3) and (np.all(image == np.array(CHOSEN, np.uint8), axis=2)).sum() > 20


def test_compose_frame_scales_the_frame_and_keeps_even_sides():
    frame = np.random.default_rng(1).integers(0, 255, (105, 81, 3), dtype=np.uint8)
    out = compose_frame(frame, np.zeros((300, 100, 3), np.uint8), scale=3)
    assert out.shape == (314, 342, 3)  # 315 x (243 + 100), cut to even sides
    np.testing.assert_array_equal(out[:314, :242], np.repeat(np.repeat(frame, 3, 0), 3, 1)[:314, :242])
    assert compose_frame(frame, None).shape == (104, 80, 3)


def test_stack_panels_keeps_every_number_per_frame():
    panels = [ActionValuesPanel("t", np.array([i, -i], np.float32), i % 2) for i in range(3)]
    stacked = stack_panels(panels)
    assert stacked["q_values"].shape == (3, 2) and stacked["chosen"].tolist() == [0, 1, 0]
    assert "probabilities" not in stacked and "title" not in stacked


# ------------------------------------------------------------------------ evaluation start


def test_changed_leaves_holds_only_what_the_evaluation_changed_and_restores_it():
    generator = torch.Generator().manual_seed(3)
    numpy_rng = np.random.default_rng(5)
    weights = torch.randn(4, 3)

    def agent_state():
        return {"learner": {"online": {"w": weights.detach()}, "steps": 7}, "eval_rng": numpy_rng.bit_generator.state,
                "generators": {"taus": generator.get_state()}, "history": [1.0, 2.0]}

    before = agent_state()
    torch.rand(5, generator=generator)  # an "evaluation" draws from both streams
    numpy_rng.random(3)
    after = agent_state()
    changes = changed_leaves(before, after)
    assert sorted(tuple(path[:1]) for path, _ in changes) == [("eval_rng",), ("generators",)]
    assert all(path[0] != "learner" for path, _ in changes)  # the weights are not copied
    restored = with_leaves(after, changes)
    assert restored["eval_rng"] == before["eval_rng"] and torch.equal(restored["generators"]["taus"],
                                                                      before["generators"]["taus"])
    assert restored["learner"]["online"]["w"] is after["learner"]["online"]["w"]
    assert after["eval_rng"] != before["eval_rng"]  # with_leaves copies containers, never edits its input
    assert changed_leaves(before, restored) == []


def test_changes_survive_a_weights_only_checkpoint(tmp_path):
    before = {"rng": {"state": {"state": 2**100 + 1, "inc": 3}}, "g": torch.arange(4, dtype=torch.uint8)}
    after = {"rng": {"state": {"state": 9, "inc": 3}}, "g": torch.arange(4, dtype=torch.uint8) + 1}
    torch.save({"changes": changed_leaves(before, after)}, tmp_path / "c.pt")
    changes = torch.load(tmp_path / "c.pt", weights_only=True)["changes"]
    restored = with_leaves(after, changes)
    assert restored["rng"]["state"]["state"] == 2**100 + 1 and torch.equal(restored["g"], before["g"])


# ---------------------------------------------------------------------------- episodes


def test_play_episodes_plays_exactly_what_run_episodes_plays():
    def policy(seed):
        rng = np.random.default_rng(seed)
        return lambda obs: rng.integers(3, size=len(obs)).astype(np.int64)

    class Policy:
        def __init__(self, seed):
            self.act_fn = policy(seed)

        def act(self, obs, panel=False):
            return self.act_fn(obs), None

    expected = run_episodes(FakeEnvs(3, episode_length=4), policy(0), 7, seed=1)
    results = play_episodes(FakeEnvs(3, episode_length=4), Policy(0), 7, seed=1)
    np.testing.assert_array_equal(results.returns, expected)
    assert results.lengths.tolist() == [4] * 7 and results.returns.tolist() == [4.0] * 7


def test_each_sub_env_plays_its_quota_so_short_episodes_are_not_over_represented():
    # env 0's episodes: 2 steps of reward 1 (return 2); env 1's: 5 steps of reward 10 (return 50).
    # 5 episodes over 2 envs: quotas 3 and 2. Env 0 finishes at steps 2, 5, 8 (a reset step after
    # each), env 1 at 5 and 11; a run that took the first 5 episodes to end would take 4 of env 0's.
    def envs():
        return FakeEnvs(2, episode_length=[2, 5], reward_per_step=[1.0, 10.0])

    class Policy:
        def act(self, obs, panel=False):
            return np.zeros(len(obs), np.int64), None

    returns = run_episodes(envs(), lambda obs: np.zeros(len(obs), np.int64), 5, seed=0)
    assert returns.tolist() == [2.0, 2.0, 50.0, 2.0, 50.0]  # in the order they ended
    results = play_episodes(envs(), Policy(), 5, seed=0)
    assert results.returns.tolist() == returns.tolist() and results.lengths.tolist() == [2, 2, 5, 2, 5]


# ----------------------------------------------------------------------------- settings


def test_settings_parse_types_and_refuse_what_does_not_apply():
    settings = parse_settings(["episodes=3", "seed=5", "sticky=false", "panel=true", "epsilon=0.05"])
    assert (settings.episodes, settings.seed, settings.sticky, settings.video, settings.epsilon) == (3, 5, False, True,
                                                                                                     0.05)
    with pytest.raises(ConfigValueError, match="episodes"):
        parse_settings(["episodes=0"])
    with pytest.raises(ConfigValueError, match="rlkit-eval knows"):
        parse_settings(["episode=3"])
    with pytest.raises(ConfigValueError, match="envs"):
        parse_settings(["video=true", "envs=4"])
    with pytest.raises(ConfigValueError, match="sticky"):
        parse_settings(["sticky=maybe"])


# ------------------------------------------------------------------------------ sinks


class _FakeRun:
    def __init__(self):
        self.rows = []

    def log(self, row):
        self.rows.append(row)


def test_wandb_sink_logs_a_video_as_media_at_its_env_step(tmp_path):
    import wandb

    sink = WandbSink("disabled", project="p", entity=None, group=None, name="n", job_type="j", tags=[], config={},
                     run_dir=tmp_path, run_id="x", init_timeout_s=1.0)
    sink.log_video(100, "eval/video", tmp_path / "v.mp4")  # W&B off: nothing, no error
    path = tmp_path / "v.mp4"
    path.write_bytes(b"\x00" * 64)
    sink.run = _FakeRun()
    sink.log_video(200, "eval/video", path)
    (row,) = sink.run.rows
    assert row["env_step"] == 200 and isinstance(row["eval/video"], wandb.Video)


def test_tensorboard_sink_refuses_without_the_package_naming_the_extra(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(ConfigValueError, match=r'pip install -e "\.\[tensorboard\]"'):
        TensorBoardSink(tmp_path)
    assert not (tmp_path / "tensorboard").exists()


def test_a_squashed_gaussian_is_drawn_through_its_tanh():
    # SAC: mean 2, std 1 before the tanh on bounds [0, 4]: the bars are 2 + 2 tanh(2 -+ k)
    panel = GaussianPanel("sac", np.array([2.0], np.float32), np.array([1.0], np.float32), np.array([3.9], np.float32),
                          np.array([0.0]), np.array([4.0]), center=np.full(1, 2.0, np.float32),
                          half_range=np.full(1, 2.0, np.float32), squashed=True)
    lower, upper = panel.interval_in_env_units(1.0)
    np.testing.assert_allclose([lower[0], upper[0]], [2 + 2 * np.tanh(1.0), 2 + 2 * np.tanh(3.0)], rtol=1e-6)
    lower2, upper2 = panel.interval_in_env_units(2.0)
    np.testing.assert_allclose([lower2[0], upper2[0]], [2.0, 2 + 2 * np.tanh(4.0)], atol=1e-6)
    assert upper2[0] < 4.0  # inside the bounds, where a linear map would put mean + 2 std at 8
    drawer = PanelDrawer(200, 560, ["force"])
    image = drawer.draw(panel)
    (centre,) = _row_centres(drawer, 1)
    bar = np.flatnonzero(np.all(image[centre] == np.array(BAR, np.uint8), axis=1))  # the +- 1 std bar
    left, right = drawer.LABEL_PX + 10, drawer.width - drawer.VALUE_PX - 6
    expected = left + (np.array([lower[0], upper[0]]) / 4.0) * (right - left)
    np.testing.assert_allclose([bar.min(), bar.max()], expected, atol=2)
