"""Every value-based algorithm on every discrete env family for a few hundred steps, in-process.

Options are spread over the runs so each one runs at least once (not the full product)."""

import math

import pytest

from rlkit import checkpoint
from rlkit.logging import METRICS_FILE, read_metrics
from tests.conftest import run_in_process

SHORT_ATARI = ["env.max_episode_frames=2000", "hardware.num_envs=4", "hardware.eval_num_envs=2"]

CASES = {
    "dqn_cartpole_default": ["env=cartpole", "schedule=smoke"],
    "dqn_cartpole_expected_boltzmann_hard_mse_vanilla_nstep": [
        "env=cartpole", "schedule=smoke", "algo.backup=expected", "algo.exploration=boltzmann",
        "algo.target_update=hard", "algo.td_loss=mse", "algo.double_q=false", "algo.n_step=3"],
    "dqn_cartpole_soft_targetclip": ["env=cartpole", "schedule=smoke", "algo.backup=soft", "algo.target_clip=50",
                                     "env.reward_clip=1.0"],
    "dqn_cartpole_report_soft_constant_lr": ["env=cartpole", "schedule=smoke", "algo.backup=report_soft",
                                             "schedule.lr_final=null", "algo.grad_clip_norm=null"],
    "dqn_boxing_pixels": ["env=boxing", "schedule=smoke", *SHORT_ATARI],
    "dqn_boxing_ram": ["env=boxing_ram", "schedule=smoke", *SHORT_ATARI],
    "iqn_cartpole_soft_cvar": ["algo=iqn", "env=cartpole", "schedule=smoke", "algo.backup=soft",
                               "algo.risk_measure=cvar", "algo.risk_eta=0.5", "algo.exploration=boltzmann"],
    "iqn_boxing_pixels": ["algo=iqn", "env=boxing", "schedule=smoke", *SHORT_ATARI],
    "iqn_boxing_ram_kappa0_wang_hard": ["algo=iqn", "env=boxing_ram", "schedule=smoke", "algo.kappa=0",
                                        "algo.risk_measure=wang", "algo.risk_eta=-0.5", "algo.target_update=hard",
                                        "algo.double_q=false", "algo.n_step=2", *SHORT_ATARI],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_value_based_smoke(name, tmp_path):
    run_dir = tmp_path / "run"
    result = run_in_process(CASES[name] + ["logger.progress_bar=false"], run_dir)
    assert result["exit_code"] == 0, result.get("error")
    assert result["env_step"] >= 400
    rows = read_metrics(run_dir / METRICS_FILE)
    train_rows = [r for r in rows if "loss" in r]
    assert train_rows, "no training row logged"
    assert all(math.isfinite(r["loss"]) and math.isfinite(r["grad_norm"]) for r in train_rows)
    assert all(r["updates"] > 0 for r in train_rows[1:])
    eval_rows = [r for r in rows if "eval/return_mean" in r]
    assert len(eval_rows) >= 2 and all(r["eval/episodes"] == 2 for r in eval_rows)
    assert [step for step, _ in checkpoint.list_checkpoints(run_dir)][-1] == result["env_step"]
    if "algo=iqn" in CASES[name]:
        assert all(math.isfinite(r["return_iqr"]) for r in train_rows if "return_iqr" in r)
        assert any("return_iqr" in r for r in train_rows)
