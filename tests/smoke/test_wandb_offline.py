"""W&B in offline mode: one run per job, the run's id and config, no server needed."""

from tests.conftest import run_in_process


def test_offline_run_is_written_with_the_run_id_and_config(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    run_dir = tmp_path / "run"
    result = run_in_process(["env=cartpole", "schedule=smoke", "logger.wandb_mode=auto", "logger.progress_bar=false",
                             "logger.tags=[smoke]"], run_dir)
    assert result["exit_code"] == 0, result.get("error")
    run_id = (run_dir / "run_id.txt").read_text().strip()
    offline = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 1 and offline[0].name.endswith(run_id)
    record = (offline[0] / f"run-{run_id}.wandb").read_bytes()  # the run's log, synced later by `wandb sync`
    assert b"CartPole-v1" in record and b"smoke" in record  # the resolved config and the tags
    assert b"train/episode_return_mean" in record or b"eval/return_mean" in record  # metrics logged
