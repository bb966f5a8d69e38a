import json

from rlkit.report import find_run_dirs, main, summarize


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


def test_cli_prints_a_table_and_refuses_missing_paths(tmp_path, capsys):
    _write_run(tmp_path / "run", [{"env_step": 10, "eval/return_mean": 3.0, "eval/return_std": 0.5}], [])
    assert main([str(tmp_path / "run"), "--out", str(tmp_path / "table.md")]) == 0
    out = capsys.readouterr().out
    assert "| 3.0 +- 0.5 |" in out and (tmp_path / "table.md").read_text().strip() == out.strip()
    assert main([str(tmp_path / "nope")]) == 2
    assert "no such path" in capsys.readouterr().err
