"""rlkit/launch.py's pure pieces (the job itself runs in tests/smoke)."""

import json

import numpy as np
import pytest

from rlkit.launch import random_baseline, random_baseline_json


def test_the_random_baseline_compares_with_population_stds_and_a_one_sided_welch_test():
    baseline = random_baseline({"env_step": 1000, "eval_returns": [10.0, 12.0, 14.0], "random_returns": [0.0, 2.0]})
    assert baseline["agent_mean"] == 12.0 and baseline["random_mean"] == 1.0
    assert baseline["agent_std"] == pytest.approx(np.sqrt(8 / 3)) and baseline["random_std"] == 1.0
    # Welch: variances 4/3 and 2/2 (ddof 1), t = 11 / sqrt(7/3), dof = (7/3)^2 / ((4/3)^2 / 2 + 1)
    assert baseline["welch_t"] == pytest.approx(11 / np.sqrt(7 / 3))
    assert baseline["welch_dof"] == pytest.approx((7 / 3) ** 2 / ((4 / 3) ** 2 / 2 + 1))
    assert 0 < baseline["p_value"] < 0.05 and baseline["beats_random"]


def test_constant_samples_give_strict_json_with_null_for_infinity():
    baseline = random_baseline({"env_step": 5, "eval_returns": [3.0, 3.0], "random_returns": [-21.0, -21.0]})
    assert baseline["welch_t"] == np.inf and baseline["p_value"] == 0.0 and baseline["beats_random"]
    written = json.loads(random_baseline_json(baseline))
    assert written["welch_t"] is None and written["welch_dof"] is None
    assert written["p_value"] == 0.0 and written["beats_random"] is True and written["agent_returns"] == [3.0, 3.0]


def test_an_extension_that_moves_an_lr_decay_laid_over_the_budget_says_where_the_lr_jumps():
    from dataclasses import replace

    from rlkit.algos.ppo import OnPolicySchedule
    from rlkit.algos.value_based.config import OffPolicySchedule
    from rlkit.launch import lr_change_note

    saved = OffPolicySchedule(total_env_steps=400, warmup_env_steps=64, replay_capacity_transitions=2000,
                              batch_size=16, updates_per_env_step=0.25, lr=1e-4, lr_final=5e-5)
    longer = replace(saved, total_env_steps=800)
    note = lr_change_note(saved, longer, 404)
    # at 404 the run's decay had ended (5e-05); over 800 it stands at 1e-4 - 404/800 * 5e-5 = 7.475e-05
    assert "from 5e-05 to 7.475e-05" in note and "schedule.lr_decay_env_steps=400 keeps" in note
    assert lr_change_note(saved, replace(longer, lr_decay_env_steps=400), 404) is None
    assert lr_change_note(replace(saved, lr_final=None), replace(longer, lr_final=None), 404) is None  # constant
    added = lr_change_note(replace(saved, lr_final=None), longer, 404)  # a decay added: no old decay to keep
    assert "from 0.0001 to 7.475e-05" in added and "keeps" not in added
    assert lr_change_note(saved, saved, 404) is None
    ppo = OnPolicySchedule(total_env_steps=1000, lr=3e-4)
    assert "from 0 to 0.00015:" in lr_change_note(ppo, replace(ppo, total_env_steps=2000), 1000)
    assert lr_change_note(ppo, None, 1000) is None and lr_change_note(None, ppo, 1000) is None


def test_a_sweep_dir_is_taken_only_by_jobs_that_hold_runs(tmp_path):
    from rlkit.__main__ import prepare_sweep_dir

    sweep = tmp_path / "sweep"
    for job in ("0", "2"):  # a 3-job sweep whose jobs all failed on bad input
        (sweep / job).mkdir(parents=True)
        (sweep / job / "outcome.json").write_text("{}\n")
    (sweep / "multirun.yaml").write_text("{}\n")
    (sweep / "sweep_summary.md").write_text("| job |\n")
    argv = ["-m", "seed=0,1", f"hydra.sweep.dir={sweep}"]
    assert prepare_sweep_dir(argv) is None  # reusable, its old jobs' outcomes and summary gone
    assert sorted(p.name for p in sweep.iterdir()) == ["multirun.yaml"]
    (sweep / "1" / "checkpoints").mkdir(parents=True)  # a job that ran and saved
    (sweep / "1" / "checkpoints" / "step_000000000100.pt").write_bytes(b"")
    (sweep / "1" / "config.yaml").write_text("{}\n")
    problem = prepare_sweep_dir(argv)
    assert f"hydra.sweep.dir='{sweep}'" in problem and f"resume={sweep / '1'}" in problem
    assert prepare_sweep_dir(argv[1:]) is None and prepare_sweep_dir([*argv, f"resume={sweep / '1'}"]) is None
    assert (sweep / "1" / "config.yaml").is_file()  # a taken dir is left as it is


def test_config_differences_tell_a_missing_key_from_a_null_and_fill_added_keys():
    from rlkit.launch import config_differences

    saved = {"health": {"min_return_trend": 0.1}, "hardware": {"amp": False}}
    new = {"health": {"min_return_trend": 0.1, "max_grad_norm_over_clip": None},
           "hardware": {"amp": False, "compile_mode": "default"}}
    # a run saved before a key existed ran without it: a null default is still a change to confirm;
    # a key listed in ADDED_KEYS (hardware.compile_mode) is no change at its default
    assert config_differences(saved, new) == ["health.max_grad_norm_over_clip: '<absent>' -> None"]
    assert config_differences(new, new) == []
