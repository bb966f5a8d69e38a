"""Acting and learning overlapped (hardware.overlap_env_steps): deterministic for a seed, and every
update the env steps earned is made by the end, as in the synchronous order. (The actions come from
weights one vector step older, so the trajectories themselves differ from the synchronous run's.)"""

import pytest

from rlkit import checkpoint
from rlkit.logging import METRICS_FILE, read_metrics
from tests.conftest import run_in_process

NOISY = {"wall_time_s", "sps", "system/cpu_percent", "system/rss_gb"}
WARMUP, UPDATES_PER_ENV_STEP = 64, 0.25  # schedule=smoke's
CASES = {
    "cartpole": ["env=cartpole", "schedule=smoke", "schedule.total_env_steps=1500"],
    # ale_vector's C++ threads step while the learner runs; one short evaluation game at the end
    "boxing_pixels": ["env=boxing", "schedule=smoke", "env.max_episode_frames=1000", "hardware.num_envs=4",
                      "schedule.eval_interval_env_steps=400", "schedule.eval_episodes=1", "hardware.eval_num_envs=1"],
}


def _rows(run_dir):
    return [{k: v for k, v in r.items() if k not in NOISY} for r in read_metrics(run_dir / METRICS_FILE)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_overlap_is_deterministic_and_makes_the_same_updates(case, tmp_path):
    args = CASES[case] + ["logger.progress_bar=false"]
    a = run_in_process(args + ["hardware.overlap_env_steps=true"], tmp_path / "a")
    b = run_in_process(args + ["hardware.overlap_env_steps=true"], tmp_path / "b")
    sync = run_in_process(args, tmp_path / "sync")
    assert a["exit_code"] == b["exit_code"] == sync["exit_code"] == 0
    assert _rows(tmp_path / "a") == _rows(tmp_path / "b")  # deterministic
    assert _rows(tmp_path / "a") != _rows(tmp_path / "sync")  # the overlap did change the order
    for name, result in (("a", a), ("sync", sync)):
        state = checkpoint.load_checkpoint(checkpoint.list_checkpoints(tmp_path / name)[-1][1])["agent"]
        earned = (result["env_step"] - WARMUP) * UPDATES_PER_ENV_STEP
        updates, credit = state["learner"]["num_updates"], state["update_credit"]
        assert updates > 0 and 0 <= credit < 1  # all spent at the end
        assert abs(updates + credit - earned) <= 8 * UPDATES_PER_ENV_STEP  # the vector step that crossed the warm-up
