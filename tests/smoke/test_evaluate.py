"""`rlkit-eval`: evaluation of trained runs (DQN and IQN on CartPole, DQN on Boxing RAM, PPO and SAC
on InvertedPendulum), exact replays of the runs' own evaluations, videos that decode to the expected
frames, panels whose numbers are the network's outputs, and one-message refusals (exit 2).

The runs are short (schedule=smoke / ppo_smoke) and made once per module."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import rlkit
from rlkit import checkpoint
from rlkit import evaluate as ev
from rlkit import video as video_module
from rlkit.algos.iqn.learner import mean_q
from rlkit.eval_policies import PANEL_TAUS, PolicyChoice, build_policy, panel_taus
from rlkit.logging import METRICS_FILE, read_metrics
from rlkit.panels import ActionValuesPanel, GaussianPanel, QuantilesPanel
from rlkit.video import FrameSource, VideoError
from tests.conftest import REPO, as_trained_on_cuda, refuse_cuda, run_in_process

QUIET = ["logger.progress_bar=false"]


def _train(tmp_path_factory, name: str, overrides: list[str]):
    run_dir = tmp_path_factory.mktemp(name) / "run"
    result = run_in_process(overrides + QUIET, run_dir)
    assert result["exit_code"] == 0, result
    return run_dir, result


@pytest.fixture(scope="module")
def dqn_run(tmp_path_factory):
    # eval_epsilon 0.5: half the evaluation actions come from the agent's evaluation stream, so only an
    # evaluation that starts that stream where the run's did can give the run's returns
    return _train(tmp_path_factory, "dqn", ["env=cartpole", "schedule=smoke", "schedule.total_env_steps=600",
                                            "algo.eval_epsilon=0.5", "schedule.eval_episodes=5"])


@pytest.fixture(scope="module")
def iqn_run(tmp_path_factory):
    return _train(tmp_path_factory, "iqn", ["algo=iqn", "env=cartpole", "schedule=smoke", "algo.eval_epsilon=0.5",
                                            "schedule.total_env_steps=600", "schedule.eval_episodes=3"])


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    # sampled evaluation actions: the actor's evaluation generator (advanced by every evaluation) decides them
    return _train(tmp_path_factory, "ppo", ["env=inverted_pendulum", "algo=ppo", "schedule=ppo_smoke",
                                            "algo.eval_deterministic=false"])


@pytest.fixture(scope="module")
def sac_run(tmp_path_factory):
    # sampled evaluation actions: only an evaluation that starts the actor's evaluation stream where the
    # run's did can give the run's returns
    return _train(tmp_path_factory, "sac", ["env=inverted_pendulum", "algo=sac", "schedule=sac_smoke",
                                            "hardware.torch_threads=1", "algo.eval_deterministic=false"])


@pytest.fixture(scope="module")
def boxing_run(tmp_path_factory):
    # 400-frame games (100 agent steps) keep evaluations and videos short; a video every 200 env steps
    return _train(tmp_path_factory, "boxing", ["env=boxing_ram", "schedule=smoke", "env.max_episode_frames=400",
                                               "hardware.eval_num_envs=2", "logger.video_interval_env_steps=200"])


def _evaluate(run_dir, *args: str, keep_obs: bool = False) -> dict:
    return ev.evaluate_run(run_dir, ev.parse_settings(list(args)), out=lambda line: None, keep_obs=keep_obs)


def _logged_final_returns(result: dict) -> list[float]:
    return [float(r) for r in result["eval_returns"]]


# ------------------------------------------------------------------------------ replays


def test_dqn_evaluation_replays_the_runs_final_evaluation_exactly(dqn_run, monkeypatch):
    run_dir, result = dqn_run
    record = _evaluate(run_dir)
    assert record["episode_returns"] == _logged_final_returns(result)
    assert len(record["episode_returns"]) == len(record["episode_lengths"]) == 5
    assert record["reproduces_run_evaluation"]["equal"] is True
    assert record["env_step"] == result["env_step"] and record["settings"]["epsilon"] == 0.5
    saved = json.loads(Path(record["path"]).read_text())
    assert saved["episode_returns"] == record["episode_returns"]
    assert saved["return_mean"] == pytest.approx(np.mean(record["episode_returns"]))
    assert saved["return_iqm"] <= saved["return_max"] and saved["return_min"] <= saved["return_iqm"]
    # the test can fail: from the streams as saved (after that evaluation) the returns differ
    monkeypatch.setattr(ev, "with_leaves", lambda state, changes: state)
    assert _evaluate(run_dir)["episode_returns"] != record["episode_returns"]


def test_a_run_trained_with_its_replay_on_cuda_evaluates_on_the_cpu(dqn_run, tmp_path, monkeypatch):
    run_dir, result = dqn_run
    cuda_run = as_trained_on_cuda(run_dir, tmp_path / "cuda_run")
    refuse_cuda(monkeypatch)
    record = _evaluate(cuda_run)
    assert record["episode_returns"] == _logged_final_returns(result)  # the run's evaluation, replayed
    assert record["reproduces_run_evaluation"]["equal"] is True


def _with_cuda_generator_states(state):
    """``state`` as a CUDA run saves it: each torch generator's state is 16 bytes (seed and offset)."""
    if isinstance(state, dict):
        return {key: _with_cuda_generator_states(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_with_cuda_generator_states(value) for value in state)
    is_generator_state = isinstance(state, torch.Tensor) and state.dtype == torch.uint8 and state.numel() == 5056
    return torch.arange(16, dtype=torch.uint8) if is_generator_state else state


def test_a_run_whose_random_streams_lived_on_cuda_evaluates_and_loads_on_the_cpu(iqn_run, tmp_path, monkeypatch):
    run_dir, result = iqn_run
    cuda_run = as_trained_on_cuda(run_dir, tmp_path / "cuda_run")
    for _, path in checkpoint.list_checkpoints(cuda_run):
        torch.save(_with_cuda_generator_states(checkpoint.load_checkpoint(path)), path)
    refuse_cuda(monkeypatch)
    record = _evaluate(cuda_run)
    assert len(record["episode_returns"]) == 3  # (a replay only by chance: the eval taus start elsewhere)
    (note,) = [n for n in record["notes"] if n.startswith("device=cpu")]
    assert "generators.iqn_eval_taus" in note and "start from their seeds" in note
    assert rlkit.load(cuda_run).act(np.zeros((2, 4), dtype=np.float32)).shape == (2,)


def test_best_checkpoint_replays_its_own_evaluation(dqn_run):
    run_dir, _ = dqn_run
    best = checkpoint.load_checkpoint(checkpoint.best_checkpoint_path(run_dir))
    record = _evaluate(run_dir, "checkpoint=best.pt")
    assert record["env_step"] == best["counters"]["env_step"]
    assert record["episode_returns"] == [float(r) for r in best["last_eval_returns"]]


def test_evaluation_is_deterministic_for_a_seed_and_the_policy_is_chosen(dqn_run):
    run_dir, _ = dqn_run
    a = _evaluate(run_dir, "seed=7", "episodes=6", "policy=boltzmann", "temperature=0.5")
    b = _evaluate(run_dir, "seed=7", "episodes=6", "policy=boltzmann", "temperature=0.5")
    assert a["episode_returns"] == b["episode_returns"] and a["episode_lengths"] == b["episode_lengths"]
    assert a["settings"]["env_seed"] == b["settings"]["env_seed"] and a["reproduces_run_evaluation"] is None
    assert a["settings"]["policy"] == "boltzmann" and a["settings"]["temperature"] == 0.5
    greedy = _evaluate(run_dir, "seed=7", "episodes=6", "policy=greedy")
    again = _evaluate(run_dir, "seed=8", "episodes=6", "policy=greedy")
    assert len(greedy["episode_returns"]) == 6 and greedy["settings"]["env_seed"] != again["settings"]["env_seed"]


def test_iqn_evaluation_replays_the_run_and_takes_a_risk_measure(iqn_run, monkeypatch):
    run_dir, result = iqn_run
    record = _evaluate(run_dir)
    assert record["episode_returns"] == _logged_final_returns(result)
    assert record["reproduces_run_evaluation"]["equal"] is True
    start = checkpoint.load_checkpoint(checkpoint.list_checkpoints(run_dir)[-1][1])["last_eval_start"]
    paths = [list(path) for path, _ in start["agent_changes"]]
    assert {path[0] for path in paths} == {"eval_rng", "generators"}  # both evaluation streams, nothing else
    assert [path for path in paths if path[0] == "generators"] == [["generators", "iqn_eval_taus"]]
    with monkeypatch.context() as patch:
        patch.setattr(ev, "with_leaves", lambda state, changes: state)
        assert _evaluate(run_dir)["episode_returns"] != record["episode_returns"]
    cvar = _evaluate(run_dir, "risk_measure=cvar", "risk_eta=0.25", "policy=greedy")
    assert cvar["settings"]["risk_measure"] == "cvar" and cvar["settings"]["risk_eta"] == 0.25
    assert cvar["reproduces_run_evaluation"] is None and len(cvar["episode_returns"]) == 3


def test_ppo_sampled_evaluation_replays_the_run(ppo_run, monkeypatch):
    run_dir, result = ppo_run
    record = _evaluate(run_dir)
    assert record["settings"]["policy"] == "sample" and record["reproduces_run_evaluation"]["equal"] is True
    assert record["episode_returns"] == _logged_final_returns(result)
    with monkeypatch.context() as patch:  # the test can fail: from the stream as saved the samples differ
        patch.setattr(ev, "with_leaves", lambda state, changes: state)
        assert _evaluate(run_dir)["episode_returns"] != record["episode_returns"]
    mean = _evaluate(run_dir, "policy=mean", "episodes=2")
    assert mean["episode_returns"] == _evaluate(run_dir, "policy=mean", "episodes=2")["episode_returns"]


def test_sac_sampled_evaluation_replays_the_run_and_the_mean_policy_is_deterministic(sac_run, monkeypatch):
    run_dir, result = sac_run
    record = _evaluate(run_dir)
    assert record["settings"]["policy"] == "sample" and record["reproduces_run_evaluation"]["equal"] is True
    assert record["episode_returns"] == _logged_final_returns(result)
    with monkeypatch.context() as patch:  # the test can fail: from the stream as saved the samples differ
        patch.setattr(ev, "with_leaves", lambda state, changes: state)
        assert _evaluate(run_dir)["episode_returns"] != record["episode_returns"]
    mean = _evaluate(run_dir, "policy=mean", "episodes=2", "seed=5")
    assert mean["episode_returns"] == _evaluate(run_dir, "policy=mean", "episodes=2", "seed=5")["episode_returns"]
    assert mean["settings"]["policy"] == "mean" and mean["reproduces_run_evaluation"] is None


def test_boxing_ram_evaluation_replays_the_run_and_sticky_false_turns_sticky_actions_off(boxing_run):
    run_dir, result = boxing_run
    record = _evaluate(run_dir)
    assert record["episode_returns"] == _logged_final_returns(result)
    assert record["settings"]["repeat_action_probability"] == 0.25
    off = _evaluate(run_dir, "sticky=false", "episodes=2")
    assert off["settings"]["repeat_action_probability"] == 0.0 and off["reproduces_run_evaluation"] is None
    assert not [n for n in record["notes"] + off["notes"] if "video" in n]


def test_a_video_evaluation_with_the_runs_settings_says_why_it_is_no_replay(boxing_run):
    """Recording plays on 1 env, and the run evaluated on 2: the replay check is left out, and a note says so."""
    run_dir, _ = boxing_run
    record = _evaluate(run_dir, "video=true")
    assert record["reproduces_run_evaluation"] is None and record["settings"]["num_envs"] == 1
    (note,) = [n for n in record["notes"] if "video=true" in n]
    assert "where the run evaluated on 2" in note and "not a replay of its evaluation" in note


def test_a_greedy_boxing_evaluation_without_sticky_actions_says_its_episodes_are_copies_of_one_game(boxing_run):
    run_dir, _ = boxing_run
    record = _evaluate(run_dir, "policy=greedy", "sticky=false", "episodes=3")
    returns = record["episode_returns"]
    assert returns == [returns[0]] * 3 and record["episode_lengths"] == [100] * 3  # one game, three times
    assert record["return_std"] == 0.0 and record["return_mean"] == record["return_iqm"] == returns[0]
    (note,) = [n for n in record["notes"] if "copies of one game" in n]
    assert note.startswith("the 3 episodes are copies of one game: policy=greedy draws nothing")
    assert "noop_max 0" in note and "drop sticky=false" in note and "noop_max=30" in note
    for spread in (("policy=greedy", "episodes=3"), ("policy=epsilon", "epsilon=0.5", "sticky=false", "episodes=3"),
                   ("policy=greedy", "sticky=false", "episodes=1")):  # sticky actions; epsilon draws; one game
        assert not [n for n in _evaluate(run_dir, *spread)["notes"] if "copies" in n], spread


def test_noop_max_gives_a_greedy_evaluation_without_sticky_actions_random_starts(boxing_run):
    run_dir, result = boxing_run
    record = _evaluate(run_dir, "policy=greedy", "sticky=false", "noop_max=30", "episodes=4")
    assert record["settings"]["noop_max"] == 30 and record["settings"]["repeat_action_probability"] == 0.0
    assert not [n for n in record["notes"] if "copies" in n] and record["reproduces_run_evaluation"] is None
    assert len(set(record["episode_returns"])) > 1  # the starts differ, so the greedy games do
    again = _evaluate(run_dir, "policy=greedy", "sticky=false", "noop_max=30", "episodes=4")
    assert again["episode_returns"] == record["episode_returns"]  # the starts are drawn from the seeded resets
    same = _evaluate(run_dir, "noop_max=0")  # the run's own value: still its evaluation, replayed
    assert same["settings"]["noop_max"] == 0 and same["reproduces_run_evaluation"]["equal"]
    assert same["episode_returns"] == _logged_final_returns(result)


def test_noop_max_on_an_env_without_no_op_starts_or_below_0_is_one_message_and_exit_2(dqn_run, boxing_run, capsys):
    code, err = _main([dqn_run[0], "noop_max=30"], capsys)
    assert code == 2 and err.count("\n") == 0 and "noop_max=30" in err and "only Atari envs have no-op starts" in err
    code, err = _main([boxing_run[0], "noop_max=-1"], capsys)
    assert code == 2 and err.count("\n") == 0 and "noop_max=-1" in err and ">= 0" in err


# ------------------------------------------------------------------------------- panels


def _newest_agent_and_first_obs(run_dir, seeds: tuple[int, ...]):
    """(checkpoint, the closed video env (its spec), the agent of the newest checkpoint, the first
    observation of an episode per seed [len(seeds), *obs_shape])."""
    loaded = ev.load_checkpoint(run_dir, None)
    envs = ev.video_envs(loaded.run, loaded.run.env.for_evaluation())
    try:
        agent = ev.build_agent(loaded, envs.spec, torch.device("cpu"), at_eval_start=False)
        obs = np.concatenate([envs.reset(seed=seed) for seed in seeds])
    finally:
        envs.close()
    return loaded, envs, agent, obs


def test_iqn_panel_numbers_are_the_networks_quantiles_and_the_policys_values(iqn_run):
    run_dir, _ = iqn_run
    loaded, envs, agent, obs = _newest_agent_and_first_obs(run_dir, seeds=(3,))  # obs [1, 4]
    for risk in ("neutral", "cvar"):
        policy = build_policy(agent, loaded.run, envs.spec, PolicyChoice("greedy", risk_measure=risk, risk_eta=0.25),
                              seed=11)
        taus_state = policy.q_function.keywords["generator"].get_state()
        actions, panel = policy.act(obs, panel=True)
        assert isinstance(panel, QuantilesPanel) and panel.quantiles.shape == (PANEL_TAUS, 2)
        network = agent.learner.online
        with torch.no_grad():
            direct = network(torch.from_numpy(obs), panel_taus().expand(1, PANEL_TAUS))[0].numpy()  # [N, A]
            replay = torch.Generator().set_state(taus_state)
            scores = mean_q(network, torch.from_numpy(obs), 8, risk, 0.25, generator=replay)[0].numpy()  # [A]
        np.testing.assert_array_equal(panel.quantiles, direct)
        np.testing.assert_array_equal(panel.scores, scores)
        assert panel.chosen == int(actions[0]) == int(np.argmax(scores))


def test_iqn_panel_shows_the_q_values_the_action_was_chosen_from_and_does_not_change_the_evaluation(iqn_run,
                                                                                                    monkeypatch):
    # IQN's Q draws taus from the evaluation stream: a second forward for the panel would show other
    # values than the ones that chose the action, and move the stream the next actions draw from
    from rlkit import eval_policies

    run_dir, _ = iqn_run
    # blank frames: the panel's numbers are what count here (CartPole draws through pygame, which may be missing)
    monkeypatch.setattr(ev, "build_frame_source", lambda family, envs: FrameSource(
        rgb=lambda: np.zeros((60, 90, 3), dtype=np.uint8), fps=50.0, action_names=None))
    forwards: list[np.ndarray] = []  # [1, A] per call of the policy's Q function, this evaluation
    build = eval_policies.build_policy

    def recording_build_policy(*args, **kwargs):
        policy = build(*args, **kwargs)
        q_function = policy.q_function

        def recorded(obs):
            q = q_function(obs)  # [1, A]
            forwards.append(q.float().cpu().numpy().copy())
            return q
        policy.q_function = recorded
        return policy
    monkeypatch.setattr(eval_policies, "build_policy", recording_build_policy)
    without_panel = _evaluate(run_dir, "video=true")
    chose_without_panel, forwards[:] = list(forwards), []
    record = _evaluate(run_dir, "video=true", "panel=true", keep_obs=True)
    assert record["episode_returns"] == without_panel["episode_returns"]
    assert record["episode_lengths"] == without_panel["episode_lengths"]
    assert len(forwards) == len(chose_without_panel)  # the panel adds no forward on the evaluation's stream
    for with_panel, without in zip(forwards, chose_without_panel):
        np.testing.assert_array_equal(with_panel, without)
    panels = [panel for video in record["recorded"] for panel in video.panels]
    assert len(panels) == sum(length + 1 for length in record["episode_lengths"])
    greedy = [panel for panel in panels if not panel.explored]
    assert 0 < len(greedy) < len(panels)  # eval_epsilon 0.5: both kinds of frame
    assert len(forwards) == len(greedy)  # one forward per greedy frame: the one that chose its action
    for panel, q in zip(greedy, forwards):
        np.testing.assert_array_equal(panel.scores, q[0])
        assert panel.chosen == int(np.argmax(q[0]))


def test_boxing_video_decodes_to_one_frame_per_obs_and_its_panel_shows_the_networks_q_values(boxing_run):
    import imageio.v2 as imageio

    run_dir, _ = boxing_run
    record = _evaluate(run_dir, "video=true", "panel=true", "episodes=2", "policy=greedy", keep_obs=True)
    assert len(record["videos"]) == 2 and record["settings"]["num_envs"] == 1
    network = None
    for index, (video, length) in enumerate(zip(record["recorded"], record["episode_lengths"])):
        reader = imageio.get_reader(video.path, format="FFMPEG")
        frames = [frame for frame in reader]
        reader.close()
        assert length == 100 and len(frames) == video.frames == length + 1  # the first obs, then one per step
        assert frames[0].shape == (630, 480 + 560, 3)  # the 3x ALE screen beside the panel
        assert frames[0][:, :480].std() > 10  # the game's picture, not a blank
        if network is None:
            loaded = ev.load_checkpoint(run_dir, None)
            envs = ev.video_envs(loaded.run, loaded.run.env)
            network = ev.build_agent(loaded, envs.spec, torch.device("cpu"), at_eval_start=True).learner.online
            envs.close()
        with torch.no_grad():
            direct = network(torch.from_numpy(np.stack(video.obs))).numpy()  # [T, 18]
        panels = video.panels
        assert all(isinstance(p, ActionValuesPanel) for p in panels) and len(panels) == len(frames)
        np.testing.assert_allclose(np.stack([p.q_values for p in panels]), direct, rtol=1e-5, atol=1e-6)
        assert [p.chosen for p in panels] == direct.argmax(axis=1).tolist()  # greedy
        saved = np.load(video.path.with_suffix(".panel.npz"))
        np.testing.assert_array_equal(saved["q_values"], np.stack([p.q_values for p in panels]))


def _decoded_frames(path: Path) -> int:
    import imageio.v2 as imageio

    reader = imageio.get_reader(path, format="FFMPEG")
    count = sum(1 for _ in reader)
    reader.close()
    return count


@pytest.mark.parametrize("signal_name, exit_code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupted_video_evaluation_keeps_its_finished_episodes_and_their_record(boxing_run, signal_name,
                                                                                       exit_code):
    run_dir, _ = boxing_run
    videos = run_dir / "videos"
    before = set(videos.glob("eval_*")) | set(run_dir.glob("eval_*.json"))
    process = subprocess.Popen([sys.executable, "-m", "rlkit.evaluate", str(run_dir), "episodes=3", "video=true",
                                "panel=true", "policy=greedy"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (set(videos.glob("eval_*_ep000.panel.npz")) - before):  # the first game is written
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.05)
        if signal_name == "SIGINT":  # as a terminal's Ctrl-C: to the whole process group
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == exit_code and "Traceback" not in err, err
    (line,) = [line for line in err.splitlines() if line.startswith("rlkit-eval")]  # (ALE prints its banner there)
    assert line.startswith(f"rlkit-eval: interrupted ({signal_name}) after") and line == err.strip().splitlines()[-1]
    (path,) = set(run_dir.glob("eval_*.json")) - before
    record = json.loads(path.read_text())
    finished = len(record["episode_returns"])
    assert record["interrupted"] == signal_name and 1 <= finished < 3  # the signal came during a later game
    assert record["episode_lengths"] == [100] * finished and record["return_mean"] == np.mean(record["episode_returns"])
    assert [note for note in record["notes"] if note.startswith("interrupted")] == [
        f"interrupted by {signal_name} after {finished} of 3 episodes: the returns (and videos) are those of the"
        " episodes that finished"]
    kept = [Path(v) for v in record["videos"]]
    assert len(kept) == finished and set(videos.glob("eval_*")) - before == set(
        kept + [v.with_suffix(".panel.npz") for v in kept])  # the game being played left no file
    for video in kept:
        assert _decoded_frames(video) == 101 and np.load(video.with_suffix(".panel.npz"))["q_values"].shape == (101, 18)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])  # KeyboardInterrupt: a second Ctrl-C
def test_a_video_evaluation_that_fails_in_its_second_episode_keeps_the_first_episodes_video(boxing_run, monkeypatch,
                                                                                            capsys, error):
    run_dir, _ = boxing_run
    videos = run_dir / "videos"
    before = set(videos.glob("eval_*")) | set(run_dir.glob("eval_*.json"))
    start_episode = video_module.EpisodeRecorder.start_episode

    def failing_start(recorder):
        start_episode(recorder)
        if len(recorder.episodes) == 2:  # the second game's file is open
            raise error("the renderer died")
    monkeypatch.setattr(video_module.EpisodeRecorder, "start_episode", failing_start)
    args = [str(run_dir), "video=true", "episodes=3", "policy=greedy"]
    if error is RuntimeError:
        with pytest.raises(RuntimeError, match="the renderer died"):
            ev.main(args)
        (video,) = set(videos.glob("eval_*")) - before  # the first game's video; no record, no second file
    else:
        assert ev.main(args) == 130
        (path,) = set(run_dir.glob("eval_*.json")) - before
        record = json.loads(path.read_text())
        assert record["interrupted"] == "SIGINT" and record["episode_lengths"] == [100]
        (video,) = set(videos.glob("eval_*")) - before
        assert record["videos"] == [str(video)] and "after 1 of 3 episodes" in capsys.readouterr().err
    assert video.name.endswith("_ep000.mp4") and _decoded_frames(video) == 101


def test_periodic_training_videos_are_written_and_decode(boxing_run):
    import imageio.v2 as imageio

    run_dir, _ = boxing_run
    videos = sorted((run_dir / "videos").glob("train_*.mp4"))
    assert [v.name for v in videos] == ["train_000000000200_ep000.mp4", "train_000000000400_ep000.mp4"]
    reader = imageio.get_reader(videos[0], format="FFMPEG")
    assert sum(1 for _ in reader) == 101 and reader.get_meta_data()["fps"] == 15.0
    reader.close()


def test_mujoco_video_and_its_panel_show_the_policys_mean_and_std(ppo_run):
    import imageio.v2 as imageio

    run_dir, _ = ppo_run
    try:
        record = _evaluate(run_dir, "video=true", "panel=true", "episodes=1", "policy=mean", keep_obs=True)
    except VideoError as err:
        pytest.skip(f"MuJoCo cannot render offscreen on this machine: {err}")
    (video,) = record["recorded"]
    reader = imageio.get_reader(video.path, format="FFMPEG")
    frames = [frame for frame in reader]
    reader.close()
    assert len(frames) == record["episode_lengths"][0] + 1 and frames[0].shape == (480, 480 + 560, 3)
    loaded = ev.load_checkpoint(run_dir, None)
    envs = ev.video_envs(loaded.run, loaded.run.env)
    agent = ev.build_agent(loaded, envs.spec, torch.device("cpu"), at_eval_start=True)
    envs.close()
    obs = agent.actor.obs_normalizer(np.stack(video.obs), update=False)
    with torch.no_grad():
        mean, log_std, _ = agent.network(torch.as_tensor(obs, dtype=torch.float32))
    panels = video.panels
    assert all(isinstance(p, GaussianPanel) for p in panels)
    np.testing.assert_allclose(np.stack([p.mean for p in panels]), mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.stack([p.std for p in panels]), log_std.detach().exp().expand_as(mean).numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.stack([p.action for p in panels]), np.clip(mean.numpy(), -1, 1) * 3.0, rtol=1e-5)


def test_sac_panel_shows_the_gaussian_before_its_tanh_and_the_action_sent(sac_run):
    run_dir, _ = sac_run
    loaded, envs, agent, obs = _newest_agent_and_first_obs(run_dir, seeds=(3, 4))  # obs [2, 4]
    with torch.no_grad():
        mean, log_std = agent.actor.policy(torch.from_numpy(obs))  # [2, 1], [2, 1]
    for name in ("mean", "sample"):
        policy = build_policy(agent, loaded.run, envs.spec, PolicyChoice(name), seed=9)
        start = policy.generator.get_state()
        actions, panel = policy.act(obs, panel=True)
        assert isinstance(panel, GaussianPanel) and panel.squashed
        np.testing.assert_array_equal(panel.mean, mean[0].numpy())
        np.testing.assert_array_equal(panel.std, log_std[0].exp().numpy())
        np.testing.assert_array_equal(panel.action, actions[0])
        if name == "mean":  # InvertedPendulum's bounds are +-3: the action is 3 tanh(mean)
            np.testing.assert_allclose(actions, 3.0 * np.tanh(mean.numpy()), rtol=1e-6)
            np.testing.assert_allclose(panel.to_env_units(panel.mean), actions[0], rtol=1e-6)
        else:  # the actor's own sampling on the same stream gives the same actions
            with torch.no_grad():
                own = agent.actor._sample(obs, torch.Generator().set_state(start))  # [2, 1] in (-1, 1)
            np.testing.assert_array_equal(actions, agent.actor.env_actions(own))


# ------------------------------------------------------------------------------ refusals


def _main(args, capsys) -> tuple[int, str]:
    code = ev.main([str(a) for a in args])
    err = capsys.readouterr().err.strip()
    return code, err


def test_a_missing_checkpoint_or_a_foreign_file_is_one_message_and_exit_2(dqn_run, iqn_run, capsys):
    run_dir, _ = dqn_run
    code, err = _main([run_dir, "checkpoint=step_000000000001.pt"], capsys)
    assert code == 2 and err.count("\n") == 0 and "step_000000000001.pt" in err and "best.pt" in err
    (run_dir / "checkpoints" / "notes.pt").write_bytes(b"not a checkpoint at all")
    code, err = _main([run_dir, "checkpoint=notes.pt"], capsys)
    assert code == 2 and err.count("\n") == 0 and "cannot load checkpoint" in err
    torch.save({"weights": torch.zeros(3)}, run_dir / "checkpoints" / "other.pt")
    code, err = _main([run_dir, "checkpoint=other.pt"], capsys)
    assert code == 2 and err.count("\n") == 0 and "not an rlkit checkpoint" in err
    iqn_dir, _ = iqn_run
    (run_dir / "checkpoints" / "iqn.pt").write_bytes(checkpoint.list_checkpoints(iqn_dir)[-1][1].read_bytes())
    code, err = _main([run_dir, "checkpoint=iqn.pt"], capsys)
    assert code == 2 and err.count("\n") == 0 and "another run" in err and "algo.name" in err
    code, err = _main([run_dir / "checkpoints", "episodes=1"], capsys)
    assert code == 2 and "not an rlkit run dir" in err
    code, err = _main([run_dir, "policy=mean"], capsys)
    assert code == 2 and "policy='mean'" in err and "greedy" in err
    code, err = _main([run_dir, "episods=3"], capsys)
    assert code == 2 and "episods" in err and "episodes" in err


def test_the_command_line_exits_2_with_one_line_and_no_traceback(tmp_path):
    (tmp_path / "config.yaml").write_text("seed: 0\n")
    done = subprocess.run([sys.executable, "-m", "rlkit.evaluate", str(tmp_path), "episodes=2"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"rlkit-eval: error: {tmp_path} has no checkpoint yet ({tmp_path}/checkpoints holds" \
                                  " no step_*.pt)"


# ----------------------------------------------------------------------------- TensorBoard


def test_tensorboard_gets_the_metrics_rows_against_env_step(tmp_path):
    pytest.importorskip("tensorboard", reason='logger.tensorboard needs the extra: pip install -e ".[tensorboard]"')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    assert run_in_process(["env=cartpole", "schedule=smoke", "logger.tensorboard=true"] + QUIET,
                          run_dir)["exit_code"] == 0
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    rows = read_metrics(run_dir / METRICS_FILE)
    for key in ("eval/return_mean", "loss", "sps"):
        logged = [(r["env_step"], r[key]) for r in rows if key in r]
        scalars = [(s.step, s.value) for s in events.Scalars(key)]
        assert len(logged) >= 2 and [s for s, _ in scalars] == [s for s, _ in logged]
        np.testing.assert_allclose([v for _, v in scalars], [v for _, v in logged], rtol=1e-6)


def test_a_second_ctrl_c_just_after_an_episode_ended_keeps_that_episodes_video(boxing_run, monkeypatch, capsys):
    from rlkit.eval_policies import ValuePolicy

    run_dir, _ = boxing_run
    videos = run_dir / "videos"
    before = set(videos.glob("eval_*")) | set(run_dir.glob("eval_*.json"))
    act, calls = ValuePolicy.act, []

    def interrupted_act(policy, obs, panel=False):
        calls.append(1)
        if len(calls) == 101:  # the first game ended at its 100th step and is counted; its final frame is next
            raise KeyboardInterrupt
        return act(policy, obs, panel=panel)
    monkeypatch.setattr(ValuePolicy, "act", interrupted_act)
    assert ev.main([str(run_dir), "video=true", "episodes=3", "policy=greedy"]) == 130
    (path,) = set(run_dir.glob("eval_*.json")) - before
    record = json.loads(path.read_text())
    (video,) = set(videos.glob("eval_*")) - before  # the counted game's video, without its final frame
    assert record["episode_lengths"] == [100] and record["videos"] == [str(video)] and _decoded_frames(video) == 100
    capsys.readouterr()


def test_a_second_ctrl_c_inside_a_frames_write_drops_that_episodes_video(boxing_run, monkeypatch, capsys):
    run_dir, _ = boxing_run
    videos = run_dir / "videos"
    before = set(videos.glob("eval_*")) | set(run_dir.glob("eval_*.json"))
    frame = video_module.EpisodeRecorder.frame

    def interrupted_frame(recorder, obs, panel, caption):
        if "(episode over)" in caption:  # the encoder is killed by an interrupt in its write: a broken file
            raise KeyboardInterrupt
        frame(recorder, obs, panel, caption)
    monkeypatch.setattr(video_module.EpisodeRecorder, "frame", interrupted_frame)
    assert ev.main([str(run_dir), "video=true", "episodes=3", "policy=greedy"]) == 130
    (path,) = set(run_dir.glob("eval_*.json")) - before
    record = json.loads(path.read_text())
    assert record["episode_lengths"] == [100] and record["videos"] == []
    assert not set(videos.glob("eval_*")) - before
    capsys.readouterr()
