import inspect
import json
from pathlib import Path

import numpy as np
import pytest

from rlkit.episodes import EpisodeTracker
from rlkit.report import (TRAIN_RETURN_WINDOW, align_curves, final_score, find_run_dirs, group_variants, is_sweep_dir,
                          load_run, main, resolved_settings, response_file, summarize, varying_keys)
from rlkit.stats import iqm

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _write_run(path, rows, overrides):
    path.mkdir(parents=True)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))


def test_summary_reads_the_numbers_of_the_metrics_file(tmp_path):
    rows = [{"env_step": 100, "sps": 50.0, "train/episode_return_mean": 1.0},
            {"env_step": 200, "eval/return_mean": 7.0, "eval/return_std": 1.0},
            {"env_step": 300, "sps": 70.0, "train/episode_return_mean": 4.0},
            {"env_step": 300, "eval/return_mean": 5.0, "eval/return_std": 2.0}]
    _write_run(tmp_path / "sweep" / "0", rows, ["seed=1", "schedule.lr=0.001"])
    _write_run(tmp_path / "sweep" / "1", rows[:1], ["seed=2"])
    runs = find_run_dirs([tmp_path / "sweep"])
    assert [r.name for r in runs] == ["0", "1"]
    summary = summarize(runs[0])
    assert summary["env_steps"] == 300 and summary["train_return"] == 4.0
    assert (summary["eval_return"], summary["eval_std"], summary["best_eval_return"]) == (5.0, 2.0, 7.0)
    assert summary["sps"] == 60.0 and summary["overrides"] == "seed=1 schedule.lr=0.001"
    assert summarize(runs[1])["eval_return"] is None


def test_the_run_table_shows_the_random_policy_where_a_run_compared_with_it(tmp_path):
    rows = [{"env_step": 100, "sps": 50.0, "train/episode_return_mean": 1.0},
            {"env_step": 100, "eval/return_mean": 9.9, "eval/return_std": 6.5}]
    _write_run(tmp_path / "compared", rows, ["seed=0"])
    (tmp_path / "compared" / "random_baseline.json").write_text(json.dumps(
        {"env_step": 100, "agent_mean": 9.9, "random_mean": -0.2, "welch_t": 4.09, "p_value": 0.00056,
         "beats_random": True}))
    _write_run(tmp_path / "alone", rows, ["seed=1"])
    assert (summarize(tmp_path / "compared")["random_return"], summarize(tmp_path / "compared")["random_p_value"]) \
        == (-0.2, 0.00056)
    assert summarize(tmp_path / "alone")["random_return"] is None
    assert main([str(tmp_path / "compared"), str(tmp_path / "alone"), "--out-dir", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report" / "report.md").read_text()
    assert "random policy (one-sided Welch p)" in table
    assert "| 9.9 +- 6.5 | 9.9 | -0.2 (p 0.00056) | 50 |" in table and "| 9.9 +- 6.5 | 9.9 | - | 50 |" in table

    # extended past its comparison (and not finished again): the table says which evaluation it was against
    with open(tmp_path / "compared" / "metrics.jsonl", "a") as metrics:
        metrics.write(json.dumps({"env_step": 200, "sps": 50.0, "train/episode_return_mean": 2.0}) + "\n")
    assert main([str(tmp_path / "compared"), "--out-dir", str(tmp_path / "report2")]) == 0
    assert "| -0.2 (p 0.00056) against the evaluation at 100 |" in (tmp_path / "report2" / "report.md").read_text()


def test_cli_prints_a_table_and_refuses_missing_paths(tmp_path, capsys):
    _write_run(tmp_path / "run", [{"env_step": 10, "eval/return_mean": 3.0, "eval/return_std": 0.5}], [])
    out_dir = tmp_path / "report"
    assert main([str(tmp_path / "run"), "--out", str(tmp_path / "table.md"), "--out-dir", str(out_dir)]) == 0
    out = capsys.readouterr().out
    table = (tmp_path / "table.md").read_text().strip()
    assert "| 3.0 +- 0.5 |" in table and table.startswith("| run |") and table in out
    assert main([str(tmp_path / "nope")]) == 2
    assert "no such path" in capsys.readouterr().err


# Final eval returns of the synthetic sweep, by lr, for seeds 1, 2, 3. By hand:
# lr=0.001: mean (10 + 20 + 60) / 3 = 30; IQM of n=3 weighs the sorted values 1/6, 2/3, 1/6: (10 + 80 + 60) / 6 = 25
# lr=0.0003: mean (16 + 4 + 7) / 3 = 9; IQM (4 + 4 * 7 + 16) / 6 = 8
FINAL_EVALS = {"0.001": [10.0, 20.0, 60.0], "0.0003": [16.0, 4.0, 7.0]}
HAND = {"schedule.lr=0.001": (30.0, 25.0), "schedule.lr=0.0003": (9.0, 8.0)}


def _write_sweep(root):
    """2 lr values x 3 seeds as Hydra lays them out: numbered job dirs; seed s runs at 100 s + 10 SPS (median)."""
    job = 0
    for lr, finals in FINAL_EVALS.items():
        for seed, final in enumerate(finals, start=1):
            end = 300 + 10 * seed  # the seeds stop at different env steps
            rows = [{"env_step": 100, "sps": 100.0 * seed, "loss": 1.0, "grad_norm": 2.0,
                     "train/episode_return_mean": 1.0},
                    {"env_step": 150, "eval/return_mean": final / 2, "eval/return_std": 1.0},
                    {"env_step": end, "sps": 100.0 * seed + 20, "loss": 0.5, "grad_norm": 1.0,
                     "train/episode_return_mean": 2.0},
                    {"env_step": end, "eval/return_mean": final, "eval/return_std": 1.0}]
            _write_run(root / str(job), rows, ["experiment=cartpole_dqn", f"schedule.lr={lr}", f"seed={seed}"])
            (root / str(job) / "config.yaml").write_text(f"seed: {seed}\nschedule:\n  lr: {lr}\n")
            job += 1
    return root


def _table_rows(markdown, section):
    """{first cell: other cells} of the Markdown table under ``## section``."""
    lines = markdown.split(f"## {section}\n")[1].split("\n## ")[0].splitlines()
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines if line.startswith("|")]
    return {row[0]: row[1:] for row in cells[2:]}


def _is_png(path):
    data = path.read_bytes()
    return data[:8] == PNG_SIGNATURE and len(data) > 5000


def test_seeds_of_a_sweep_are_grouped_into_variants(tmp_path):
    sweep = _write_sweep(tmp_path / "sweep")
    assert is_sweep_dir(sweep) and not is_sweep_dir(sweep / "0")
    runs = [load_run(d) for d in find_run_dirs([sweep])]
    keys, variants = group_variants(runs)
    assert keys == ["schedule.lr"]  # experiment is the same everywhere, seed is not a variant
    assert [v.label for v in variants] == ["schedule.lr=0.0003", "schedule.lr=0.001"]  # numeric order
    for variant in variants:
        lr = variant.settings["schedule.lr"]
        assert sorted(r.path.name for r in variant.runs) == (["3", "4", "5"] if lr == "0.0003" else ["0", "1", "2"])
        seeds = sorted(o for r in variant.runs for o in r.overrides if o.startswith("seed="))
        assert seeds == ["seed=1", "seed=2", "seed=3"]
        assert sorted(final_score(r.rows) for r in variant.runs) == sorted(FINAL_EVALS[lr])
    assert varying_keys([{"a": "1", "b": "x"}, {"a": "1", "b": "y"}, {"a": "1", "b": "x", "c": "2"}]) == ["b", "c"]


def test_report_of_a_sweep_has_the_variant_numbers_and_figures(tmp_path, capsys):
    sweep = _write_sweep(tmp_path / "sweep")
    assert main([str(sweep)]) == 0  # a sweep dir is also the default output dir
    out = capsys.readouterr().out
    markdown = (sweep / "report.md").read_text()
    assert markdown in out and f"wrote {sweep / 'report.md'}" in out
    variants = _table_rows(markdown, "Variants")
    assert set(variants) == set(HAND)
    for label, (mean, iqm_by_hand) in HAND.items():
        seeds, mean_text, iqm_text, low_text, high_text, sps_text = variants[label]
        lr = label.split("=")[1]
        scores = [json.loads(line)["eval/return_mean"]
                  for job in sorted(sweep.iterdir()) if job.is_dir()
                  for line in (job / "metrics.jsonl").read_text().splitlines()[-1:]
                  if f"- schedule.lr={lr}\n" in (job / "overrides.yaml").read_text()]
        # the 95% Student-t interval by hand: mean +- t_{0.975, 2} s / sqrt(3)
        half = 4.302652729749 * np.std(scores, ddof=1) / np.sqrt(3.0)
        low, high = np.mean(scores) - half, np.mean(scores) + half
        assert seeds == "3" and sps_text == "210"  # runs' median SPS 110, 210, 310
        assert float(mean_text) == pytest.approx(mean) == pytest.approx(np.mean(scores))
        assert float(iqm_text) == pytest.approx(iqm_by_hand) == pytest.approx(iqm(scores))
        assert float(low_text) == pytest.approx(low, abs=0.005) and float(high_text) == pytest.approx(high, abs=0.005)
        assert low <= mean <= high
    assert len(_table_rows(markdown, "Runs")) == 6
    assert "(curves.png)" in markdown and "(response_schedule.lr.png)" in markdown
    assert _is_png(sweep / "curves.png") and _is_png(sweep / "response_schedule.lr.png")


def test_a_run_without_evaluation_is_scored_by_its_last_training_return(tmp_path, capsys):
    rows = [{"env_step": 100, "sps": 50.0, "train/episode_return_mean": 1.0},
            {"env_step": 200, "sps": 70.0, "train/episode_return_mean": 4.0}]
    _write_run(tmp_path / "run", rows, ["seed=3"])
    assert final_score(rows) == 4.0
    assert final_score(rows + [{"env_step": 200, "eval/return_mean": 9.0}]) == 9.0
    assert final_score([{"env_step": 0}]) is None
    assert main([str(tmp_path / "run")]) == 0  # a run dir: the report goes to <run dir>/report
    capsys.readouterr()
    markdown = (tmp_path / "run" / "report" / "report.md").read_text()
    # seeds, mean, IQM, then no CI: one seed says nothing of the spread
    assert _table_rows(markdown, "Variants")["(defaults)"][:5] == ["1", "4.00", "4.00", "-", "-"]
    assert _is_png(tmp_path / "run" / "report" / "curves.png")
    assert not list((tmp_path / "run" / "report").glob("response_*"))  # nothing swept


def test_two_swept_keys_get_one_response_figure_each(tmp_path, capsys, monkeypatch):
    import matplotlib.axes

    errorbar, response_lines = matplotlib.axes.Axes.errorbar, []

    def recording(ax, *args, **kwargs):  # the response figures' series (the curves' markers pass fmt instead)
        if "linestyle" in kwargs:
            response_lines.append(kwargs["linestyle"])
        return errorbar(ax, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", recording)
    for job, (lr, backup) in enumerate([("0.1", "max"), ("0.1", "soft"), ("1", "max"), ("1", "soft")]):
        rows = [{"env_step": 10, "eval/return_mean": float(job)}, {"env_step": 20, "eval/return_mean": float(job + 1)}]
        _write_run(tmp_path / "sweep" / str(job), rows, [f"schedule.lr={lr}", f"+algo.backup={backup}", "seed=0"])
    assert main([str(tmp_path / "sweep"), "--out-dir", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert set(_table_rows((tmp_path / "out" / "report.md").read_text(), "Variants")) == {
        "schedule.lr=0.1 algo.backup=max", "schedule.lr=0.1 algo.backup=soft",
        "schedule.lr=1 algo.backup=max", "schedule.lr=1 algo.backup=soft"}
    assert _is_png(tmp_path / "out" / "response_schedule.lr.png")  # numeric x, one series per backup
    assert _is_png(tmp_path / "out" / "response_algo.backup.png")  # categorical x, one series per lr
    assert sorted(response_lines) == ["-", "-", "none", "none"]  # lr's points joined, backup's not
    assert response_file("hydra/launcher") == "response_hydra_launcher.png"


def test_curves_are_interpolated_onto_the_env_steps_every_seed_covers():
    a = (np.array([0.0, 10.0, 20.0]), np.array([0.0, 10.0, 20.0]))
    b = (np.array([5.0, 15.0, 25.0]), np.array([1.0, 3.0, 5.0]))
    grid, values = align_curves([a, b])
    np.testing.assert_array_equal(grid, [5.0, 10.0, 15.0, 20.0])  # from the latest start to the earliest end
    np.testing.assert_array_equal(values, [[5.0, 10.0, 15.0, 20.0], [1.0, 2.0, 3.0, 4.0]])
    grid, values = align_curves([a, (np.array([30.0]), np.array([1.0]))])
    assert grid.size == 0 and values.shape == (2, 0)  # no env step is covered by both


def test_runs_stopped_by_the_health_verdict_show_where(tmp_path):
    stopped = [{"env_step": 100, "sps": 50.0, "train/episode_return_mean": 1.0, "health/hopeless": 1.0},
               {"env_step": 100, "health/stopped": 1.0}]
    _write_run(tmp_path / "stopped", stopped, ["schedule.lr=0.1"])
    _write_run(tmp_path / "resumed", stopped + [{"env_step": 200, "sps": 50.0, "train/episode_return_mean": 2.0}],
               ["schedule.lr=0.1"])
    assert summarize(tmp_path / "stopped")["health_stopped_at"] == 100
    assert summarize(tmp_path / "resumed")["health_stopped_at"] is None
    assert main([str(tmp_path / "stopped"), "--out-dir", str(tmp_path / "report")]) == 0
    assert "| 100 |" in (tmp_path / "report" / "report.md").read_text()


# ---- issue 17, item 7: what a new user met ------------------------------------------------------

def _config(lr=0.0001, algo="dqn", gamma=0.99, seed=0, eval_episodes=10):
    """The part of a run's resolved config.yaml that the report reads (the real file holds every key)."""
    return {"seed": seed, "random_baseline_episodes": 0, "env": {"name": "gym", "id": "CartPole-v1"},
            "algo": {"name": algo, "gamma": gamma}, "schedule": {"lr": lr, "eval_episodes": eval_episodes},
            "logger": {"progress_bar": True}}


def _write_config(path, config):
    (path / "config.yaml").write_text(json.dumps(config))  # JSON is YAML


def _rows(final, evals=True, episodes=10):
    """Training rows every 100 env steps up to 1,000 and, with ``evals``, evaluations at 500 and 1,000."""
    rows = []
    for step in range(100, 1001, 100):
        rows.append({"env_step": step, "sps": 100.0, "train/episode_return_mean": final * step / 2000})
        if evals and step % 500 == 0:
            rows.append({"env_step": step, "eval/return_mean": final * step / 1000, "eval/episodes": episodes})
    return rows


def _mixed_runs(root):
    """A DQN lr sweep (2 lr x 2 seeds, each job also writing algo.gamma=0.99, its default) and one IQN
    run at the default lr with algo.gamma=0.9: algo and gamma are not swept."""
    job = 0
    for lr in ("0.001", "0.0003"):
        for seed in (0, 1):
            path = root / "sweep" / str(job)
            _write_run(path, _rows(10.0 * float(lr) / 0.001 + seed), ["env=cartpole", f"schedule.lr={lr}",
                                                                      "algo.gamma=0.99", f"seed={seed}"])
            _write_config(path, _config(lr=float(lr), seed=seed))
            job += 1
    _write_run(root / "iqn", _rows(5.0), ["env=cartpole", "algo=iqn", "algo.gamma=0.9"])
    _write_config(root / "iqn", _config(algo="iqn", gamma=0.9))
    return [root / "sweep", root / "iqn"]


def test_a_response_is_plotted_only_for_keys_that_vary_within_a_comparison(tmp_path, capsys, figures):
    out = tmp_path / "out"
    assert main([*map(str, _mixed_runs(tmp_path)), "--out-dir", str(out)]) == 0
    capsys.readouterr()
    # lr varies among the DQN runs; algo and gamma only tell the IQN run from
    # the others, which differ from it in lr too: no group of runs compares them
    assert sorted(p.name for p in out.glob("response_*")) == ["response_schedule.lr.png"]
    markdown = (out / "report.md").read_text()
    assert "response_algo" not in markdown and "response_algo.gamma.png" not in markdown
    (ax,) = figures["response_schedule.lr.png"].axes
    xs = sorted(x for container in ax.containers for x in container.lines[0].get_xdata())
    assert xs == [0.0003, 0.001]  # the IQN run (lr 0.0001) is compared with nothing here: no point of its own


def test_a_key_left_at_its_default_shows_the_value_from_the_run_config(tmp_path, capsys, figures):
    for name, overrides, config in [("a", ["env=cartpole", "schedule.lr=0.001"], _config(lr=0.001)),
                                    ("b", ["env=cartpole"], _config()),
                                    ("c", ["env=cartpole", "algo=iqn"], _config(algo="iqn"))]:
        _write_run(tmp_path / name, _rows(1.0), overrides)
        _write_config(tmp_path / name, config)
    runs = [load_run(tmp_path / name) for name in "abc"]
    keys, variants = group_variants(runs)
    assert keys == ["schedule.lr", "algo"]
    assert [v.settings for v in variants] == [{"schedule.lr": "0.0001", "algo": "dqn"},
                                              {"schedule.lr": "0.0001", "algo": "iqn"},
                                              {"schedule.lr": "0.001", "algo": "dqn"}]
    assert main([str(tmp_path / name) for name in "abc"] + ["--out-dir", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert "unset" not in (tmp_path / "out" / "report.md").read_text()
    (ax,) = figures["response_algo.png"].axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["dqn", "iqn"]


def test_each_run_has_one_name_in_the_tables_and_every_figure(tmp_path, capsys, figures):
    paths = _mixed_runs(tmp_path)
    _write_run(tmp_path / "no_eval", _rows(3.0, evals=False), ["env=cartpole", "schedule.lr=0.001", "algo=iqn"])
    _write_config(tmp_path / "no_eval", _config(lr=0.001, algo="iqn"))
    out = tmp_path / "out"
    assert main([*map(str, paths), str(tmp_path / "no_eval"), "--out-dir", str(out), "--out",
                 str(tmp_path / "runs.md")]) == 0
    capsys.readouterr()
    markdown = (out / "report.md").read_text()
    names = set(_table_rows(markdown, "Variants"))
    assert names == {"schedule.lr=0.0001 algo.gamma=0.9 algo=iqn",
                     "schedule.lr=0.0003 algo.gamma=0.99 algo=dqn",
                     "schedule.lr=0.001 algo.gamma=0.99 algo=dqn",
                     "schedule.lr=0.001 algo.gamma=0.99 algo=iqn"}
    # a run is named by its variant, plus its seed where the variant has several
    runs = _table_rows(markdown, "Runs")
    assert set(runs) == {"schedule.lr=0.0001 algo.gamma=0.9 algo=iqn",
                         "schedule.lr=0.001 algo.gamma=0.99 algo=iqn",
                         *(f"schedule.lr={lr} algo.gamma=0.99 algo=dqn seed={seed}"
                           for lr in ("0.001", "0.0003") for seed in (0, 1))}
    assert set(_table_rows("## Runs\n" + (tmp_path / "runs.md").read_text(), "Runs")) == set(runs)
    # the curves' legend names the variants as the tables do (and nothing else but the line styles)
    legend = set(_legend_texts(figures["curves.png"]))
    assert names <= legend and all(text in names or "return" in text for text in legend)
    # a response figure's legend names what its compared runs share: the rest of their one name
    for file, fig in figures.items():
        if file.startswith("response_"):
            for text in _legend_texts(fig):
                assert any(set(text.split()) < set(name.split()) for name in names), (file, text)


def test_a_run_report_goes_into_the_run_dir(tmp_path, monkeypatch, capsys):
    _write_run(tmp_path / "run", _rows(1.0), ["env=cartpole"])
    monkeypatch.chdir(tmp_path)
    assert main([str(tmp_path / "run")]) == 0
    assert f"wrote {tmp_path / 'run' / 'report' / 'report.md'}" in capsys.readouterr().out
    assert _is_png(tmp_path / "run" / "report" / "curves.png")
    assert not (tmp_path / "report").exists()  # nothing lands in the current dir
    assert find_run_dirs([tmp_path / "run"]) == [tmp_path / "run"]  # the report is no run of its own


@pytest.fixture
def figures(monkeypatch):
    """{file name: matplotlib Figure} of every figure the report saves (the first one of a name)."""
    from matplotlib.figure import Figure

    saved, savefig = {}, Figure.savefig

    def record(fig, path, *args, **kwargs):
        saved.setdefault(Path(path).name, fig)  # the report's own curves.png comes before the run's panels
        return savefig(fig, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return saved


def _legend_texts(fig):
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes)]
    return [text.get_text() for legend in legends if legend is not None for text in legend.get_texts()]


def test_curves_draw_training_returns_between_the_evaluations(tmp_path, capsys, figures):
    rows = _rows(8.0, episodes=10)
    _write_run(tmp_path / "run", rows, ["env=cartpole"])
    assert main([str(tmp_path / "run"), "--out-dir", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    (ax,) = figures["curves.png"].axes
    train = [r for r in rows if "train/episode_return_mean" in r]
    lines = {tuple(line.get_xdata()): line for line in ax.lines}
    line = lines[tuple(r["env_step"] for r in train)]  # a line through every training row
    assert list(line.get_ydata()) == [r["train/episode_return_mean"] for r in train]
    evals = lines[(500, 1000)]  # the evaluations: markers, no line
    assert list(evals.get_ydata()) == [4.0, 8.0] and evals.get_marker() not in (None, "None", "")
    assert evals.get_linestyle() == "None"
    assert "evaluation return (mean of 10 episodes)" in ax.get_ylabel()
    assert "training return (mean of last 100 episodes)" in ax.get_ylabel()
    window = inspect.signature(EpisodeTracker).parameters["window"].default
    assert TRAIN_RETURN_WINDOW == window == 100  # the label says what the runs average


def test_a_config_group_left_at_its_default_is_named_as_another_run_chose_it(tmp_path):
    network = {"name": "mlp", "hidden_sizes": [128, 128]}
    configs = {"chosen": (["network=mlp_small"], {"network": network, "schedule": {"lr": 0.001}}),
               "default": (["schedule.lr=1e-3"], {"network": network, "schedule": {"lr": 0.001}}),
               "other": (["schedule.lr=0.01"], {"network": {"name": "mlp", "hidden_sizes": [64]},
                                               "schedule": {"lr": 0.01}}),
               "no_config": (["schedule.lr=0.1"], None)}
    for name, (overrides, config) in configs.items():
        _write_run(tmp_path / name, _rows(1.0), overrides)
        if config is not None:
            _write_config(tmp_path / name, config)
    runs = [load_run(tmp_path / name) for name in configs]
    assert resolved_settings(runs, ["network", "schedule.lr"]) == [
        {"network": "mlp_small", "schedule.lr": "0.001"},
        {"network": "mlp_small", "schedule.lr": "0.001"},  # the same section as the run that chose mlp_small
        {"network": "mlp", "schedule.lr": "0.01"},  # no run chose this section: its name
        {"network": "(default)", "schedule.lr": "0.1"}]  # no config.yaml: what the overrides say


def test_settings_that_change_nothing_a_run_learns_tell_no_variants_apart(tmp_path):
    rows = [{"env_step": 100, "eval/return_mean": 1.0, "eval/return_std": 0.0}]
    _write_run(tmp_path / "a", rows, ["seed=0", "random_baseline_episodes=10", "hydra.searchpath=[file:///x]"])
    _write_run(tmp_path / "b", rows, ["seed=1"])
    keys, variants = group_variants([load_run(tmp_path / name) for name in ("a", "b")])
    assert keys == [] and len(variants) == 1 and len(variants[0].runs) == 2  # two seeds of one variant


def test_overlapping_paths_count_each_run_once_and_a_rerun_seed_is_one_seed(tmp_path, capsys):
    sweep = _write_sweep(tmp_path / "sweep")
    assert find_run_dirs([sweep, sweep / "0", tmp_path / "sweep" / ".." / "sweep" / "1"]) == find_run_dirs([sweep])
    rerun = tmp_path / "rerun"  # seed 1 of lr=0.001 again (a copy of job 0), scored 40 this time
    _write_run(rerun, [{"env_step": 310, "eval/return_mean": 40.0, "eval/return_std": 1.0}],
               ["experiment=cartpole_dqn", "schedule.lr=0.001", "seed=1"])
    (rerun / "config.yaml").write_text("seed: 1\nschedule:\n  lr: 0.001\n")
    assert main([str(sweep), str(rerun), "--out-dir", str(tmp_path / "report")]) == 0
    markdown = (tmp_path / "report" / "report.md").read_text()
    seeds, mean_text = _table_rows(markdown, "Variants")["schedule.lr=0.001"][:2]
    assert seeds == "3" and float(mean_text) == pytest.approx(((10 + 40) / 2 + 20 + 60) / 3)  # seed 1: its mean
    assert "Note: schedule.lr=0.001: the runs of seed 1 count as one seed (their mean)" in markdown
    assert "Note:" not in markdown.split("schedule.lr=0.001: the runs")[1]  # one note: lr=0.0003 has no rerun


def test_the_evaluation_band_pairs_each_seeds_evaluation_of_one_interval_and_drops_one_a_seed_skipped(tmp_path):
    from rlkit.report import Run, evaluation_band, seed_units

    config = {"schedule": {"eval_interval_env_steps": 1000, "total_env_steps": 3000}}
    # seed 0 skipped its evaluation at 1,000 (a stop came during it): its first is at 2,000
    skipped = Run(tmp_path / "a", ["seed=0"], [{"env_step": 2007, "eval/return_mean": 20.0},
                                                {"env_step": 3004, "eval/return_mean": 30.0}], {"seed": 0, **config})
    whole = Run(tmp_path / "b", ["seed=1"], [{"env_step": 1005, "eval/return_mean": 9.0},
                                              {"env_step": 2004, "eval/return_mean": 16.0},
                                              {"env_step": 3001, "eval/return_mean": 26.0}], {"seed": 1, **config})
    band = evaluation_band(seed_units([skipped, whole]))
    np.testing.assert_array_equal(band.env_steps, [2005.5, 3002.5])  # the 2,000 and the final evaluations
    np.testing.assert_array_equal(band.mean, [18.0, 28.0])
    assert band.seeds == 2
    rerun = Run(tmp_path / "c", ["seed=1"], [{"env_step": 2004, "eval/return_mean": 18.0},
                                              {"env_step": 3001, "eval/return_mean": 28.0}], {"seed": 1, **config})
    band = evaluation_band(seed_units([skipped, whole, rerun]))  # seed 1's two runs are one seed
    assert band.seeds == 2 and band.mean.tolist() == [(20.0 + 17.0) / 2, (30.0 + 27.0) / 2]


def test_a_group_left_at_its_default_is_named_by_the_option_hydra_chose(tmp_path):
    _write_run(tmp_path / "default", _rows(1.0), ["schedule=smoke"])
    _write_run(tmp_path / "pong", _rows(2.0), ["schedule=smoke", "env=pong_ram"])
    atari = {"name": "atari", "game": "boxing"}
    _write_config(tmp_path / "default", {"env": atari})
    _write_config(tmp_path / "pong", {"env": {**atari, "game": "pong"}})
    (tmp_path / "default" / "launch.yaml").write_text("choices:\n  env: boxing_ram\n  schedule: smoke\n")
    keys, variants = group_variants([load_run(tmp_path / name) for name in ("default", "pong")])
    assert keys == ["env"] and [v.label for v in variants] == ["env=boxing_ram", "env=pong_ram"]
