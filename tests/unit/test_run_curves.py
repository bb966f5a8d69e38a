"""One run's panels (curves.png): written from its metrics rows, at the end of training and by
python -m rlkit.report <run dir>."""

import json

import matplotlib.image

from rlkit.report import main as report_main
from rlkit.run_curves import exploration_key, plot_run, series


def _run(tmp_path, rows):
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


ROWS = [{"env_step": s, "atari_frames": 4 * s, "train/episode_return_mean": s / 100, "loss": 1.0 / s,
         "grad_norm": 2.0, "grad_norm_max": 3.0, "sps": 100.0, "epsilon": 1 - s / 1000, "lr": 1e-4}
        for s in range(100, 1000, 100)] + [{"env_step": 500, "eval/return_mean": 4.0, "eval/return_std": 1.0},
                                           {"env_step": 900, "eval/return_mean": 8.0, "eval/return_std": 0.5}]


def test_the_panels_take_their_series_from_the_rows(tmp_path):
    assert series(ROWS, "eval/return_mean") == ([500, 900], [4.0, 8.0])
    assert exploration_key(ROWS) == ("epsilon", "epsilon (exploration)")
    assert exploration_key([{"env_step": 1, "alpha": 0.2}])[0] == "alpha"
    path = plot_run(_run(tmp_path, ROWS))
    assert path == tmp_path / "curves.png"
    height, width, _ = matplotlib.image.imread(path).shape
    assert (width, height) == (1350, 675)


def test_the_report_of_one_run_writes_its_panels(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    _run(run, ROWS)
    assert report_main([str(run)]) == 0
    assert (run / "curves.png").is_file() and (run / "report" / "report.md").is_file()
    assert plot_run(tmp_path / "empty") is None
