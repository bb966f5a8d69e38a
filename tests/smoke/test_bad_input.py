"""The bad-input matrix: each case runs `python -m rlkit` as a user would and must give one clear
message naming the key and the value, a non-zero exit, no Python traceback, and no partial files
(a new run's dir is never created; a resumed run's dir is left byte-for-byte as it was).

The cases run two at a time in one module fixture, each in a process of its own forked from one
interpreter that imported rlkit once (tests/cli_fork.py)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from rlkit import checkpoint
from tests.cli_fork import run_commands
from tests.conftest import run_in_process

SMOKE = ["env=cartpole", "schedule=smoke"]

# (case id, overrides, fragments the message must contain). "{good}", "{...}" name fixture run dirs.
CASES = [
    # unknown group options: Hydra lists the available ones
    ("unknown_env", ["env=boxng"], ["env/boxng", "Available options", "boxing_ram"]),
    ("unknown_algo", ["algo=dqnn"], ["algo/dqnn", "Available options", "iqn"]),
    ("unknown_network", ["network=resnet"], ["network/resnet", "Available options", "nature_cnn"]),
    ("unknown_schedule", ["schedule=huge"], ["schedule/huge", "Available options", "cpu_small"]),
    ("unknown_hardware", ["hardware=tpu"], ["hardware/tpu", "Available options", "cuda_amp"]),
    ("unknown_logger", ["logger=tensorboard"], ["logger/tensorboard", "Available options"]),
    ("unknown_experiment", ["experiment=nope"], ["experiment/nope", "Available options", "cartpole_dqn"]),
    # unknown keys and wrong types: Hydra names the full key
    ("unknown_key", SMOKE + ["schedule.bach_size=32"], ["bach_size", "schedule.bach_size"]),
    ("unknown_algo_key", SMOKE + ["algo.learning_rate=0.1"], ["learning_rate", "algo.learning_rate"]),
    ("int_as_text", SMOKE + ["schedule.batch_size=abc"], ["abc", "schedule.batch_size"]),
    ("float_as_text", SMOKE + ["schedule.lr=fast"], ["fast", "schedule.lr"]),
    ("bool_as_text", SMOKE + ["algo.double_q=maybe"], ["maybe", "algo.double_q"]),
    ("seed_as_text", SMOKE + ["seed=abc"], ["abc", "seed"]),
    ("list_item_as_text", SMOKE + ["network.hidden_sizes=[64,x]"], ["x", "network.hidden_sizes"]),
    # out-of-range and inconsistent values: rlkit names the key, the value and what is allowed
    ("batch_zero", SMOKE + ["schedule.batch_size=0"], ["schedule.batch_size=0", ">= 1"]),
    ("batch_over_buffer", SMOKE + ["schedule.batch_size=4096", "schedule.warmup_env_steps=5000"],
     ["schedule.replay_capacity_transitions=2000", ">= batch_size (4096)"]),
    ("warmup_under_batch", SMOKE + ["schedule.warmup_env_steps=8"], ["schedule.warmup_env_steps=8", "batch_size"]),
    ("tau_above_one", SMOKE + ["algo.target_update=soft", "algo.polyak_tau=1.5"], ["algo.polyak_tau=1.5", "(0, 1]"]),
    ("tau_zero", SMOKE + ["algo.polyak_tau=0"], ["algo.polyak_tau=0", "(0, 1]"]),
    ("lr_zero", SMOKE + ["schedule.lr=0"], ["schedule.lr=0", "> 0"]),
    ("lr_negative", SMOKE + ["schedule.lr=-0.001"], ["schedule.lr=-0.001", "> 0"]),
    ("updates_per_step_zero", SMOKE + ["schedule.updates_per_env_step=0"],
     ["schedule.updates_per_env_step=0", "> 0"]),
    ("temperature_zero", SMOKE + ["algo.exploration=boltzmann", "schedule.temperature_start=0"],
     ["schedule.temperature_start=0", "> 0"]),
    ("gamma_above_one", SMOKE + ["algo.gamma=1.5"], ["algo.gamma=1.5", "[0, 1]"]),
    ("unknown_exploration", SMOKE + ["algo.exploration=ucb"], ["algo.exploration='ucb'", "boltzmann"]),
    ("unknown_backup", SMOKE + ["algo.backup=softmax"], ["algo.backup='softmax'", "report_soft"]),
    ("unknown_td_loss", SMOKE + ["algo.td_loss=l1"], ["algo.td_loss='l1'", "huber"]),
    ("iqn_zero_taus", SMOKE + ["algo=iqn", "algo.num_online_taus=0"], ["algo.num_online_taus=0", ">= 1"]),
    ("threads_zero", SMOKE + ["hardware.torch_threads=0"], ["hardware.torch_threads='0'", "auto or an integer >= 1"]),
    ("envs_zero", SMOKE + ["hardware.num_envs=0"], ["hardware.num_envs=0", ">= 1"]),
    ("baseline_one_episode", SMOKE + ["random_baseline_episodes=1"], ["random_baseline_episodes=1", ">= 2"]),
    ("baseline_one_eval_episode", SMOKE + ["random_baseline_episodes=5", "schedule.eval_episodes=1"],
     ["schedule.eval_episodes=1", ">= 2 with random_baseline_episodes > 0"]),
    ("unknown_device", SMOKE + ["hardware.device=tpu"], ["hardware.device='tpu'", "cuda"]),
    ("amp_on_cpu", SMOKE + ["hardware.amp=true"], ["hardware.amp=True", "device=cuda"]),
    ("unknown_cpu_linear", SMOKE + ["hardware.cpu_linear=blas"], ["hardware.cpu_linear='blas'", "onednn"]),
    ("cpu_linear_for_ppo", ["algo=ppo", "env=hopper", "schedule=ppo_smoke", "hardware.cpu_linear=torch"],
     ["hardware.cpu_linear", "auto for algo=ppo"]),
    ("ppo_reward_clip_unscaled", ["algo=ppo", "env=hopper", "schedule=ppo_smoke", "algo.normalize_reward=false",
                                  "algo.reward_clip=5"], ["algo.reward_clip=5.0", "normalize_reward=false"]),
    ("bad_conv_channels", ["env=boxing", "schedule=smoke", "network.conv_channels=[32,64]"],
     ["network.conv_channels=[32, 64]", "three positive channel counts"]),
    ("bad_wandb_mode", SMOKE + ["logger.wandb_mode=sometimes"], ["logger.wandb_mode='sometimes'", "offline"]),
    # algo, env and network that do not fit
    ("dqn_on_continuous_env", ["env=hopper", "schedule=smoke"], ["algo.name='dqn'", "continuous"]),
    ("ppo_on_discrete_env", ["algo=ppo", "env=boxing"], ["algo.name='ppo'", "discrete"]),
    ("cnn_on_vector_obs", SMOKE + ["network=nature_cnn"], ["network.name", "nature_cnn"]),
    ("ale_vector_for_ram", ["env=boxing_ram", "schedule=smoke", "hardware.env_backend=ale_vector"],
     ["hardware.env_backend", "ale_vector"]),
    # output and resume problems
    ("unwritable_output_dir", SMOKE + ["hydra.run.dir=/proc/rlkit_cannot_write_here"],
     ["hydra.run.dir='/proc/rlkit_cannot_write_here'", "a writable directory"]),
    ("resume_missing_dir", ["resume=/nonexistent/rlkit/run"], ["resume='/nonexistent/rlkit/run'", "existing run"]),
    ("resume_not_a_run_dir", ["resume={empty}"], ["resume=", "config.yaml missing"]),
    ("resume_a_file", ["resume={a_file}"], ["resume=", "existing run directory"]),
    ("resume_without_checkpoint", ["resume={no_checkpoint}"], ["no checkpoint yet"]),
    ("resume_corrupt_checkpoint", ["resume={corrupt}"], ["cannot load checkpoint", "step_"]),
    ("resume_other_config_checkpoint", ["resume={foreign}"], ["another config", "network.hidden_sizes"]),
    ("resume_changed_config", ["resume={good}", "algo.gamma=0.9"], ["algo.gamma", "allow_config_change=true"]),
    # a new run or sweep pointed at one that exists: refused before anything is written into it
    ("run_dir_holds_a_run", SMOKE + ["hydra.run.dir={good}"],
     ["hydra.run.dir=", "holds config.yaml, metrics.jsonl, checkpoints", "resume="]),
    ("interpolated_run_dir_holds_a_run", SMOKE + ["seed=0", "hydra.run.dir={taken_prefix}${{seed}}"],
     ["hydra.run.dir=", "taken_0", "holds config.yaml", "resume="]),
    ("sweep_dir_holds_a_sweep", ["-m", *SMOKE, "seed=0,1", "hydra.sweep.dir={sweep}"],
     ["hydra.sweep.dir=", "/0 holds config.yaml", "resume="]),
    ("run_dir_holds_a_run_without_checkpoint", SMOKE + ["hydra.run.dir={no_checkpoint}"],
     ["hydra.run.dir=", "saved no checkpoint", "rm -r"]),
    # values a check catches before a library raises on them
    ("seed_negative", SMOKE + ["seed=-1"], ["seed=-1", ">= 0"]),
    ("stop_at_nan", SMOKE + ["schedule.stop_at_eval_return=nan"], ["schedule.stop_at_eval_return=nan", "finite"]),
    ("lr_inf", SMOKE + ["schedule.lr=inf"], ["schedule.lr=inf", "a finite number"]),
    ("lr_missing", SMOKE + ["schedule.lr=???"], ["schedule.lr='???'", "has no default; set it"]),
    ("updates_per_step_inf", SMOKE + ["schedule.updates_per_env_step=inf"],
     ["schedule.updates_per_env_step=inf", "a finite number"]),
    ("health_limit_nan", SMOKE + ["health.max_grad_norm_jitter=nan"], ["health.max_grad_norm_jitter=nan", "finite"]),
    # '+' adds a key to a structured config, which would drop it unread
    ("plus_unknown_key", SMOKE + ["+schedule.learning_rate=0.5"],
     ["schedule.learning_rate=0.5", "a key of schedule", "batch_size", "adds a key nothing reads"]),
    ("plus_unknown_root_key", SMOKE + ["+foo=1"], ["foo=1", "a key of the root config"]),
    ("sac_warmup_past_budget", ["algo=sac", "env=inverted_pendulum", "schedule=sac_smoke",
                                "schedule.warmup_env_steps=400"],
     ["schedule.warmup_env_steps=400", "< total_env_steps (400)"]),
    ("replay_rings_too_short", SMOKE + ["hardware.num_envs=64", "schedule.replay_capacity_transitions=192",
                                        "schedule.batch_size=32"],
     ["schedule.replay_capacity_transitions=192", ">= 256", "algo.n_step"]),
]


def _tree_digest(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_input")
    good = root / "good"
    run_in_process(SMOKE + ["logger.progress_bar=false"], good)
    other = root / "other"
    run_in_process(SMOKE + ["logger.progress_bar=false", "network.hidden_sizes=[32]"], other)
    runs = {"good": good}
    for name in ("no_checkpoint", "corrupt", "foreign"):
        runs[name] = root / name
        shutil.copytree(good, runs[name])
    shutil.rmtree(runs["no_checkpoint"] / checkpoint.CHECKPOINT_DIR)
    step, latest = checkpoint.list_checkpoints(runs["corrupt"])[-1]
    latest.write_bytes(latest.read_bytes()[:100])  # a checkpoint cut short
    shutil.rmtree(runs["foreign"] / checkpoint.CHECKPOINT_DIR)
    shutil.copytree(other / checkpoint.CHECKPOINT_DIR, runs["foreign"] / checkpoint.CHECKPOINT_DIR)
    runs["empty"] = root / "empty"
    runs["empty"].mkdir()
    runs["taken_0"] = root / "taken_0"  # a run that hydra.run.dir={taken_prefix}${seed} resolves to
    shutil.copytree(good, runs["taken_0"])
    runs["taken_prefix"] = root / "taken_"  # (not a dir: formatted into a case, never digested)
    runs["sweep"] = root / "sweep"  # a sweep whose job 0 is a run
    shutil.copytree(good, runs["sweep"] / "0")
    runs["a_file"] = root / "a_file.txt"
    runs["a_file"].write_text("not a run\n")
    digests = {name: _tree_digest(path) for name, path in runs.items() if path.is_dir()}

    env = dict(os.environ, WANDB_MODE="disabled", HYDRA_FULL_ERROR="0")
    commands, job_dirs = [], []
    for case_id, overrides, _ in CASES:
        job_dirs.append(root / "jobs" / case_id)
        args = [o.format(**{k: str(v) for k, v in runs.items()}) for o in overrides]
        if not any(a.startswith("hydra.run.dir=") for a in args):
            args.append(f"hydra.run.dir={job_dirs[-1]}")
        commands.append([*args, "logger.progress_bar=false"])
    outcomes = run_commands(commands, env)
    results = {case[0]: (outcome, job_dir) for case, outcome, job_dir in zip(CASES, outcomes, job_dirs)}
    after = {name: _tree_digest(path) for name, path in runs.items() if path.is_dir()}
    return results, digests, after


@pytest.mark.parametrize("case_id,overrides,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_cleanly(outcomes, case_id, overrides, fragments):
    results, digests_before, digests_after = outcomes
    proc, job_dir = results[case_id]
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Traceback" not in output, output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output}"
    assert not job_dir.exists(), f"{case_id} left {sorted(p.name for p in job_dir.rglob('*'))}"
    assert digests_after == digests_before  # resume failures change nothing in the run dirs


def test_the_matrix_has_at_least_30_cases():
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)
