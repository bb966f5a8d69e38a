"""Multiruns through the CLI: the basic, joblib and submitit_local launchers (Ray where installed),
one outcome and one W&B run per job, a failing job reported while the others complete."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlkit import checkpoint
from rlkit.logging import METRICS_FILE, read_metrics
from rlkit.report import summarize
from rlkit.sweeps import OUTCOME_FILE, SUMMARY_FILE
from tests.conftest import REPO

SMOKE = ["env=cartpole", "schedule=smoke", "logger.progress_bar=false"]


def _multirun(args: list[str], sweep_dir: Path, **env_overrides) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled", **env_overrides}
    return subprocess.run([sys.executable, "-m", "rlkit", "-m", *args, f"hydra.sweep.dir={sweep_dir}"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)


def _job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted((p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))


@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]],
                         ids=["basic", "joblib"])
def test_a_4_job_multirun_gives_4_runs_and_a_report_that_matches_them(launcher, tmp_path):
    sweep = tmp_path / "sweep"
    proc = _multirun(SMOKE + ["seed=0,1", "schedule.lr=0.001,0.0003", *launcher], sweep)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = _job_dirs(sweep)
    assert [j.name for j in jobs] == ["0", "1", "2", "3"]
    seen = set()
    for job in jobs:
        rows = read_metrics(job / METRICS_FILE)
        outcome = json.loads((job / OUTCOME_FILE).read_text())
        last_eval = [r for r in rows if "eval/return_mean" in r][-1]
        assert outcome["exit_code"] == 0 and outcome["env_step"] == last_eval["env_step"] >= 400
        assert outcome["eval/return_mean"] == last_eval["eval/return_mean"]
        assert summarize(job)["eval_return"] == last_eval["eval/return_mean"]
        seen.add(tuple(sorted(o for o in outcome["overrides"] if o.startswith(("seed=", "schedule.lr=")))))
    assert len(seen) == 4  # every combination ran once
    summary = (sweep / SUMMARY_FILE).read_text()
    assert summary.count("| ok |") == 4 and "all jobs finished" in proc.stdout


def test_a_failing_job_is_reported_and_the_others_complete(tmp_path):
    sweep = tmp_path / "sweep"
    proc = _multirun(SMOKE + ["schedule.lr=0.001,-1,0.0003", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], sweep)
    assert proc.returncode == 1  # the sweep says it had a failure
    assert "1 job(s) FAILED" in proc.stdout
    outcomes = {j.name: json.loads((j / OUTCOME_FILE).read_text()) for j in _job_dirs(sweep)}
    assert [o["exit_code"] for o in outcomes.values()] == [0, 2, 0]
    assert "schedule.lr=-1.0 is not allowed: > 0" in outcomes["1"]["error"]
    assert "schedule.lr=-1.0 is not allowed" in (sweep / SUMMARY_FILE).read_text()
    for name in ("0", "2"):
        assert (sweep / name / METRICS_FILE).is_file()


def test_a_2_job_submitit_local_sweep_runs(tmp_path):
    sweep = tmp_path / "sweep"
    proc = _multirun(SMOKE + ["seed=0,1", "hydra/launcher=submitit_local"], sweep)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [json.loads((j / OUTCOME_FILE).read_text())["exit_code"] for j in _job_dirs(sweep)] == [0, 0]


def _signal_a_submitit_job(sweep: Path, extra: list[str]) -> tuple[subprocess.CompletedProcess, str]:
    """A 1-job submitit_local sweep whose job gets SIGUSR2 (what submitit's controller, or SLURM,
    sends before the time limit) once it trains; the sweep's result and the job's submitit logs."""
    import signal
    import time

    cmd = [sys.executable, "-m", "rlkit", "-m", *SMOKE, "schedule.total_env_steps=20000",
           "schedule.save_interval_env_steps=100000", "schedule.eval_interval_env_steps=100000",
           "hydra/launcher=submitit_local", f"hydra.sweep.dir={sweep}", *extra]
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "WANDB_MODE": "disabled"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics, deadline = sweep / "0" / METRICS_FILE, time.monotonic() + 120
    while not (metrics.is_file() and any("loss" in row for row in read_metrics(metrics))):  # training
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    (task,) = [p for p in _descendants(proc.pid) if "submitit.core._submit" in " ".join(p.cmdline())]
    task.send_signal(signal.SIGUSR2)
    out, err = proc.communicate(timeout=300)
    logs = "".join(path.read_text() for path in (sweep / ".submitit").rglob("*_0_log.*"))
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), logs


def test_a_submitit_job_told_of_its_preemption_saves_and_its_requeued_job_continues_the_run(tmp_path):
    """submitit requeues a job it signals: the run saves a checkpoint first, and the requeued job,
    same dir and overrides, continues it instead of refusing the dir."""
    sweep = tmp_path / "sweep"
    proc, logs = _signal_a_submitit_job(sweep, [])
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = [step for step, _ in checkpoint.list_checkpoints(sweep / "0")]
    outcome = json.loads((sweep / "0" / OUTCOME_FILE).read_text())
    assert outcome["exit_code"] == 0 and outcome["env_step"] == steps[-1] >= 20000 and "| ok |" in proc.stdout
    assert 0 < steps[0] < 20000  # the stop's checkpoint, then the end's
    train_steps = [row["env_step"] for row in read_metrics(sweep / "0" / METRICS_FILE) if "loss" in row]
    assert train_steps == sorted(set(train_steps)) and train_steps[-1] >= 20000  # one run, continued
    assert f"stopped by SIGUSR2 at env step {steps[0]:,}; checkpoint saved" in logs
    assert "was requeued: it continues its run" in logs


def test_a_submitit_job_the_launcher_does_not_requeue_keeps_its_checkpoint_and_the_sweep_its_summary(tmp_path):
    """With no requeue left (a 1-minute limit counts every signal as the time limit's, and
    max_num_timeout=0, Hydra's default for SLURM), submitit refuses: the job ends stopped, with its
    checkpoint and the reason, and the sweep still writes its summary."""
    sweep = tmp_path / "sweep"
    proc, logs = _signal_a_submitit_job(sweep, ["hydra.launcher.timeout_min=1", "+hydra.launcher.max_num_timeout=0"])
    outcome = json.loads((sweep / "0" / OUTCOME_FILE).read_text())
    assert outcome["stopped_by"] == "SIGUSR2" and outcome["exit_code"] == 140
    assert "the launcher did not requeue the job" in outcome["error"] and "timed-out too many times" in outcome["error"]
    steps = [step for step, _ in checkpoint.list_checkpoints(sweep / "0")]
    assert steps and steps[-1] == outcome["env_step"] < 20000
    assert (sweep / SUMMARY_FILE).is_file() and "stopped" in (sweep / SUMMARY_FILE).read_text()
    assert "1 job(s) stopped by a signal, checkpoint saved" in proc.stdout and "FAILED" not in proc.stdout
    assert "was requeued" not in logs and proc.returncode != 0


@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None,
                    reason="the Ray launcher is an optional extra: pip install -e '.[ray]'")
def test_a_2_job_ray_sweep_runs_on_this_machine(tmp_path):
    sweep = tmp_path / "sweep"
    proc = _multirun(SMOKE + ["seed=0,1", "hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2"], sweep)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [json.loads((j / OUTCOME_FILE).read_text())["exit_code"] for j in _job_dirs(sweep)] == [0, 0]


def test_wandb_offline_writes_one_run_per_job_with_distinct_ids_and_the_sweep_group(tmp_path):
    sweep = tmp_path / "outputs" / "sweeps" / "my_study" / "2026-01-01" / "12-00-00"
    proc = _multirun(SMOKE + ["seed=0,1,2", "logger.wandb_mode=offline", "hydra/launcher=joblib"], sweep,
                     WANDB_MODE="offline", WANDB_DIR=str(tmp_path / "wandb_home"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    ids = []
    for job in _job_dirs(sweep):
        run_id = (job / "run_id.txt").read_text().strip()
        offline = list((job / "wandb").glob("offline-run-*"))
        assert len(offline) == 1 and offline[0].name.endswith(run_id)  # one run per job, its own dir
        record = (offline[0] / f"run-{run_id}.wandb").read_bytes()
        assert b"my_study/2026-01-01/12-00-00" in record  # group = the sweep's name
        assert f"seed={job.name}".encode() in record  # name from the overrides
        ids.append(run_id)
    assert len(set(ids)) == 3


@pytest.mark.skipif(importlib.util.find_spec("optuna") is None, reason="the Optuna sweeper is an optional extra")
def test_an_optuna_search_runs_its_trials_and_records_a_failed_one(tmp_path):
    sweep = tmp_path / "sweep"
    proc = _multirun(SMOKE + ["experiment=search_lr_batch_cpu", "schedule.total_env_steps=600",
                              "schedule.warmup_env_steps=100", "hydra.sweeper.n_trials=4",
                              "schedule.batch_size=choice(16,128)"], sweep)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    outcomes = [json.loads((j / OUTCOME_FILE).read_text()) for j in _job_dirs(sweep)]
    assert len(outcomes) == 4
    for outcome in outcomes:  # batch 128 > warm-up 100 fails; batch 16 runs
        batch = [o for o in outcome["overrides"] if o.startswith("schedule.batch_size=")][0]
        assert (outcome["exit_code"] == 0) == batch.endswith("=16"), outcome
    best = (sweep / "optimization_results.yaml").read_text()
    assert "best_params" in best and "schedule.lr" in best


def test_sigterm_stops_the_whole_sweep_after_saving_the_running_job(tmp_path):
    import signal
    import time

    from rlkit import checkpoint

    sweep = tmp_path / "sweep"
    env = {**os.environ, "WANDB_MODE": "disabled"}
    proc = subprocess.Popen([sys.executable, "-m", "rlkit", "-m", *SMOKE, "schedule.total_env_steps=1000000",
                             "seed=0,1,2", f"hydra.sweep.dir={sweep}"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    metrics = sweep / "0" / METRICS_FILE
    deadline = time.monotonic() + 120
    while not (metrics.is_file() and metrics.read_text().count("\n") >= 2) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr[-3000:]
    assert [j.name for j in _job_dirs(sweep)] == ["0"]  # jobs 1 and 2 never started
    outcome = json.loads((sweep / "0" / OUTCOME_FILE).read_text())
    assert outcome["exit_code"] == 143 and outcome["stopped_by"] == "SIGTERM"
    assert checkpoint.list_checkpoints(sweep / "0")[-1][0] == outcome["env_step"]  # resumable where it stopped
    assert "| stopped by SIGTERM (exit 143) |" in (sweep / SUMMARY_FILE).read_text()
    assert "stopped by SIGTERM: the jobs after the last one below did not start" in stdout
    # the job resumed alone to a budget just past where it stopped: its outcome and the summary follow
    resumed = subprocess.run([sys.executable, "-m", "rlkit", f"resume={sweep / '0'}", "allow_config_change=true",
                              f"schedule.total_env_steps={outcome['env_step'] + 100}"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    outcome = json.loads((sweep / "0" / OUTCOME_FILE).read_text())
    assert outcome["exit_code"] == 0 and "stopped_by" not in outcome and outcome["overrides"][-1] == "seed=0"
    assert "| ok |" in (sweep / SUMMARY_FILE).read_text() and "stopped by" not in (sweep / SUMMARY_FILE).read_text()


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _still_running(processes: list, wait_s: float) -> list:
    """The processes that have not ended after ``wait_s`` (a zombie has ended)."""
    import time

    import psutil

    def running(process) -> bool:
        try:
            return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + wait_s
    while any(map(running, processes)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [p for p in processes if running(p)]


def _stop_a_running_sweep(tmp_path: Path, overrides: list[str], running_jobs: int, signal_name: str,
                          to_group: bool) -> tuple[int, str, str, list]:
    """``python -m rlkit -m`` with ``overrides`` into tmp_path/sweep, in a session of its own; once
    its first ``running_jobs`` jobs train, ``signal_name`` to the launching process alone or to its
    whole group (a terminal's Ctrl-C). Returns the exit code, stdout, stderr and the sweep's
    processes still running 10 s after it ended; none outlives the test."""
    import contextlib
    import signal
    import time

    import psutil

    sweep = tmp_path / "sweep"
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "w") as stdout, open(err, "w") as stderr:  # (files: an orphan would hold a pipe open)
        proc = subprocess.Popen([sys.executable, "-m", "rlkit", "-m", *SMOKE, "schedule.total_env_steps=1000000",
                                 *overrides, f"hydra.sweep.dir={sweep}"],
                                cwd=REPO, env={**os.environ, "WANDB_MODE": "disabled"}, stdout=stdout, stderr=stderr,
                                start_new_session=True)
    processes = []
    try:
        running = [sweep / str(job) / METRICS_FILE for job in range(running_jobs)]
        deadline = time.monotonic() + 120
        while not all(m.is_file() and any("loss" in row for row in read_metrics(m)) for m in running):
            assert time.monotonic() < deadline and proc.poll() is None, err.read_text()[-3000:]
            time.sleep(0.2)
        processes = _descendants(proc.pid)  # joblib's workers, or submitit's controllers and their jobs
        sig = getattr(signal, signal_name)
        os.killpg(proc.pid, sig) if to_group else proc.send_signal(sig)
        returncode = proc.wait(timeout=120)
        survivors = _still_running(processes, wait_s=10)
    finally:
        for process in [*_descendants(proc.pid), *processes]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        proc.kill()
    return returncode, out.read_text(), err.read_text(), survivors


@pytest.mark.parametrize("signal_name, to_group, n_jobs, jobs", [
    ("SIGINT", True, 2, 3),  # a terminal's Ctrl-C: every process of the sweep gets it
    ("SIGTERM", False, 2, 3),  # kill <pid>: only the launching process gets it
    ("SIGINT", True, 3, 2),  # a worker idles (it would die of the Ctrl-C, and joblib kill the others)
], ids=["ctrl_c_to_the_group", "sigterm_to_the_launcher_alone", "ctrl_c_with_an_idle_worker"])
def test_a_signal_stops_a_joblib_sweep_after_its_running_jobs_saved(signal_name, to_group, n_jobs, jobs,
                                                                    tmp_path):
    from rlkit.launch import run_files_in

    sweep = tmp_path / "sweep"
    launcher = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={n_jobs}"]
    returncode, stdout, stderr, survivors = _stop_a_running_sweep(
        tmp_path, [f"seed={','.join(map(str, range(jobs)))}", *launcher], min(jobs, n_jobs), signal_name, to_group)
    assert returncode == {"SIGINT": 130, "SIGTERM": 143}[signal_name], stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert not survivors, survivors  # no worker trains on as an orphan
    stopped_by = signal_name if to_group else "SIGTERM"  # (the launching process forwards SIGTERM)
    for job in range(min(jobs, n_jobs)):  # they ran: each stopped at a step and saved it
        outcome = json.loads((sweep / str(job) / OUTCOME_FILE).read_text())
        assert outcome["stopped_by"] == stopped_by and outcome["exit_code"] == returncode, outcome
        assert checkpoint.list_checkpoints(sweep / str(job))[-1][0] == outcome["env_step"] > 0
    for job in range(n_jobs, jobs):  # dispatched to a worker after the stop: it never ran
        outcome = json.loads((sweep / str(job) / OUTCOME_FILE).read_text())
        assert outcome["not_run"] and run_files_in(sweep / str(job)) == [], outcome
    summary = (sweep / SUMMARY_FILE).read_text()
    assert summary.count(f"| stopped by {stopped_by} (exit {returncode}) |") == min(jobs, n_jobs)
    assert summary.count(f"| not run (the sweep was stopped by {signal_name}) |") == max(jobs - n_jobs, 0)
    assert stdout.count(f"sweep {sweep}: stopped by {signal_name}") == 1


@pytest.mark.parametrize("signal_name, to_group", [("SIGINT", True), ("SIGTERM", False)],
                         ids=["ctrl_c_to_the_group", "sigterm_to_the_launcher_alone"])
def test_a_signal_stops_a_submitit_local_sweep_after_its_running_jobs_saved(signal_name, to_group, tmp_path):
    """submitit_local runs each job under a controller process: a Ctrl-C reaching a controller used to
    kill its job a second later, saving or not, and a signal to the launching process alone left the
    jobs training to their end and the launcher in a traceback, without a summary."""
    sweep = tmp_path / "sweep"
    returncode, stdout, stderr, survivors = _stop_a_running_sweep(
        tmp_path, ["seed=0,1", "schedule.eval_interval_env_steps=10000000", "hydra/launcher=submitit_local"], 2,
        signal_name, to_group)
    assert returncode == {"SIGINT": 130, "SIGTERM": 143}[signal_name], stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert not survivors, survivors
    for job in range(2):  # each stopped at a step and saved it
        outcome = json.loads((sweep / str(job) / OUTCOME_FILE).read_text())
        assert outcome["stopped_by"] == signal_name and outcome["exit_code"] == returncode, outcome
        assert checkpoint.list_checkpoints(sweep / str(job))[-1][0] == outcome["env_step"] > 0
    assert (sweep / SUMMARY_FILE).read_text().count(f"| stopped by {signal_name} (exit {returncode}) |") == 2
    assert stdout.count(f"sweep {sweep}: stopped by {signal_name}") == 1


def test_a_submitit_local_sweep_stopped_as_its_jobs_start_writes_its_summary(tmp_path):
    """A SIGTERM forwarded to a submitit task before submitit's handler was in place killed it, and
    the launching process ended in submitit's error for a job without a result: a traceback, no
    summary. The tasks start with SIGTERM ignored, and their jobs then find the sweep stopped."""
    import signal
    import time

    sweep = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "rlkit", "-m", *SMOKE, "schedule.total_env_steps=1000000",
                             "seed=0,1", "hydra/launcher=submitit_local", f"hydra.sweep.dir={sweep}"], cwd=REPO,
                            env={**os.environ, "WANDB_MODE": "disabled"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (sweep / ".submitit").is_dir():  # the jobs are being submitted
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.5)  # their tasks are starting
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "Traceback" not in stderr, stderr[-3000:]
    assert (sweep / SUMMARY_FILE).is_file() and stdout.count(f"sweep {sweep}: stopped by SIGTERM") == 1
    for job in range(2):  # not run, or (a slow signal) stopped with its checkpoint
        outcome = json.loads((sweep / str(job) / OUTCOME_FILE).read_text())
        assert outcome["stopped_by"] == "SIGTERM" and outcome["exit_code"] == 143, outcome
        assert outcome.get("not_run") or checkpoint.list_checkpoints(sweep / str(job))[-1][0] == outcome["env_step"]


def test_the_same_sweep_command_with_resume_auto_continues_its_jobs_and_starts_those_that_never_ran(tmp_path):
    import shutil

    from rlkit.sweeps import STOP_FILE

    sweep = tmp_path / "sweep"
    first = _multirun(SMOKE + ["seed=0,1"], sweep)
    assert first.returncode == 0, first.stderr[-3000:]
    refused = _multirun(SMOKE + ["seed=0,1"], sweep)
    assert refused.returncode == 2 and "resume=auto" in refused.stderr  # a rerun without it names it
    shutil.rmtree(sweep / "1")  # as if the sweep had been stopped before job 1 started
    (sweep / STOP_FILE).write_text("SIGTERM\n")  # and its launching process killed before it cleaned up
    rows_before = read_metrics(sweep / "0" / METRICS_FILE)
    again = _multirun(SMOKE + ["seed=0,1", "resume=auto", "schedule.total_env_steps=800", "allow_config_change=true"],
                      sweep)
    assert again.returncode == 0, again.stderr[-3000:]
    for job in _job_dirs(sweep):
        outcome = json.loads((job / OUTCOME_FILE).read_text())
        assert outcome["exit_code"] == 0 and 800 <= outcome["env_step"] < 808, outcome
    rows = read_metrics(sweep / "0" / METRICS_FILE)
    assert rows[:len(rows_before)] == rows_before and f"resuming from env step {rows_before[-1]['env_step']:,}" \
        in again.stdout  # job 0 continued; job 1 ran from the start
    assert read_metrics(sweep / "1" / METRICS_FILE)[0]["env_step"] < 400
    assert (sweep / SUMMARY_FILE).read_text().count("| ok |") == 2 and not (sweep / STOP_FILE).exists()
    shutil.rmtree(sweep / "1" / "checkpoints")  # a job killed before its first checkpoint: only that job fails
    broken = _multirun(SMOKE + ["seed=0,1", "resume=auto", "schedule.total_env_steps=800",
                                "allow_config_change=true"], sweep)
    assert broken.returncode == 1, broken.stderr[-3000:]
    outcomes = [json.loads((job / OUTCOME_FILE).read_text()) for job in _job_dirs(sweep)]
    assert outcomes[0]["exit_code"] == 0 and outcomes[1]["exit_code"] == 2  # job 0: finished, nothing to do
    assert "saved no checkpoint" in outcomes[1]["error"] and "1 job(s) FAILED" in broken.stdout


@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None,
                    reason="the Ray launcher is an optional extra: pip install -e '.[ray]'")
@pytest.mark.parametrize("signal_name, to_group", [("SIGINT", True), ("SIGTERM", False)],
                         ids=["ctrl_c_to_the_group", "sigterm_to_the_launcher_alone"])
def test_a_signal_stops_a_ray_sweep_after_its_running_jobs_saved(signal_name, to_group, tmp_path):
    """ray.init's SIGTERM handler ended the launching process, and a Ctrl-C ended it in a traceback:
    either way the workers went with it, no job saved at the stop and no summary was written. The
    launching process forwards SIGTERM to the workers running jobs (Ray's processes ignore the Ctrl-C)."""
    sweep = tmp_path / "sweep"
    returncode, stdout, stderr, survivors = _stop_a_running_sweep(
        tmp_path, ["seed=0,1", "schedule.eval_interval_env_steps=10000000", "hydra/launcher=ray",
                   "+hydra.launcher.ray.init.num_cpus=2"], 2, signal_name, to_group)
    assert returncode == {"SIGINT": 130, "SIGTERM": 143}[signal_name], stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert not survivors, survivors
    for job in range(2):  # each stopped at a step and saved it (the forwarded SIGTERM)
        outcome = json.loads((sweep / str(job) / OUTCOME_FILE).read_text())
        assert outcome["stopped_by"] == "SIGTERM" and outcome["exit_code"] == 143, outcome
        assert checkpoint.list_checkpoints(sweep / str(job))[-1][0] == outcome["env_step"] > 0
    assert (sweep / SUMMARY_FILE).read_text().count("| stopped by SIGTERM (exit 143) |") == 2
    assert stdout.count(f"sweep {sweep}: stopped by {signal_name}") == 1
