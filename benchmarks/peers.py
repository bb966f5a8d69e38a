"""make bench-peers: rlkit beside Stable-Baselines3 at the same settings, on this machine.

Each case runs SB3 (in benchmarks/.venv-sb3, its own venv: never an rlkit dependency) and rlkit at
identical hyperparameters, networks and env settings, then rlkit with its own defaults as a second
row, and for DQN the same settings with ``hardware.compile=true`` (torch.compile of the loss forward;
the first update compiles, before the window); the sides alternate within each repetition and the
median of the repetitions is kept, with each repetition's ratio (rlkit over the SB3 run of the same
repetition). A rate is env steps per second over the window after the warm-up (the clock read every ``interval`` env
steps on both sides; startup, the warm-up and the final evaluation are outside the window).

In each repetition, right after the matched run of each DQN case, its ceiling: 1 / (bare update time x
updates per env step + bare env step and greedy inference time per env step), each timed apart with
rlkit's own learner, actor and envs; for PPO 1 / (one rollout's update / its env steps + bare env
step + the actor's sampling step). Ceiling / SB3's rate bounds the ratio any loop could reach with
that update and those envs: what the loop adds (normalization, storage, bookkeeping) is the rest.
For Boxing pixels also
- collection alone (random actions and replay writes through rlkit's runner, no learning) against
  the bare AtariVectorEnv step rate at the same number of envs: into the default replay's first
  pass (fresh memory, whose first touch costs page faults), the same after 1 GiB was written and
  freed (fresh pages the VM has backed before) and into a small replay that has wrapped (memory
  written before: the runner's own cost).

Writes benchmarks/results/peers.json and peers.md (``--name``: another stem). Run on idle cores: a
rate taken while other work shares the cores says nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from rlkit.episodes import EpisodeTracker  # noqa: E402
from rlkit.logging import read_metrics  # noqa: E402
from rlkit.networks.linear import cpu_vendor, cpuinfo_field  # noqa: E402
from rlkit.runner import TrainingEnvs  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
SB3_PYTHON = REPO / "benchmarks" / ".venv-sb3" / "bin" / "python"

# The matched DQN settings: SB3's DQN defaults for Atari where rlkit can express them (1 env, batch 32,
# one update per 4 env steps, lr 1e-4, grad-norm clip 10, hard target copies every 10k env steps,
# vanilla targets), epsilon 1 -> 0.01 over the warm-up so the window acts (almost) greedily on both sides.
DQN_MATCHED = ["algo=dqn", "hardware.num_envs=1", "algo.double_q=false", "algo.target_update=hard",
               "schedule.target_update_period_env_steps=10000", "schedule.updates_per_env_step=0.25",
               "schedule.replay_capacity_transitions=100000", "schedule.lr=1e-4", "schedule.lr_final=null",
               "schedule.epsilon_final=0.01"]

# name -> the SB3 arguments, rlkit's overrides at the same settings, at its defaults and (where the
# algorithm implements it) at the same settings compiled, the window
# (total env steps, warm-up, clock interval) both sides share, and the rlkit schedule keys set to the warm-up
DQN_WARMUP_KEYS = ("schedule.warmup_env_steps", "schedule.epsilon_decay_env_steps")
CASES = {
    "dqn_boxing_pixels": {
        "sb3": ["dqn_pixels", "--batch", "32", "--train-freq", "4", "--buffer", "100000", "--lr", "1e-4"],
        "matched": DQN_MATCHED + ["env=boxing", "schedule.batch_size=32", "env.reward_clip=1.0"],  # AtariWrapper clips
        "defaults": ["algo=dqn", "env=boxing"],
        "compiled": DQN_MATCHED + ["env=boxing", "schedule.batch_size=32", "env.reward_clip=1.0", "hardware.compile=true"],
        "total": 5_000, "warmup": 2_000, "interval": 500, "warmup_keys": DQN_WARMUP_KEYS,
    },
    "dqn_boxing_ram": {
        "sb3": ["dqn_ram", "--batch", "64", "--train-freq", "4", "--buffer", "100000", "--lr", "1e-4"],
        "matched": DQN_MATCHED + ["env=boxing_ram", "schedule.batch_size=64"],
        "defaults": ["algo=dqn", "env=boxing_ram"],
        "compiled": DQN_MATCHED + ["env=boxing_ram", "schedule.batch_size=64", "hardware.compile=true"],
        "total": 20_000, "warmup": 4_000, "interval": 2_000, "warmup_keys": DQN_WARMUP_KEYS,
    },
    "ppo_hopper": {
        "sb3": ["ppo_hopper"],
        # CleanRL's / SB3's layout: 1 env x 2048 steps, 10 epochs of 32 minibatches of 64
        "matched": ["algo=ppo", "env=hopper", "hardware.num_envs=1"],
        "defaults": ["algo=ppo", "env=hopper"],
        "compiled": ["algo=ppo", "env=hopper", "hardware.num_envs=1", "hardware.compile=true"],
        "total": 8 * 2048, "warmup": 2048, "interval": 2048, "warmup_keys": (),
    },
    "sac_hopper": {
        # SB3's SAC at CleanRL's batch and warm-up: 1 env, one update per env step, the policy and the
        # temperature stepped after every critic step (SB3 has no policy delay), one lr for all three
        "sb3": ["sac_hopper", "--batch", "256", "--buffer", "1000000", "--lr", "3e-4"],
        "matched": ["algo=sac", "env=hopper", "hardware.num_envs=1", "algo.policy_update_period_updates=1",
                    "schedule.batch_size=256", "schedule.replay_capacity_transitions=1000000",
                    "schedule.critic_lr=3e-4", "schedule.actor_lr=3e-4", "schedule.alpha_lr=3e-4"],
        "defaults": ["algo=sac", "env=hopper"],
        "total": 8_000, "warmup": 5_000, "interval": 500, "warmup_keys": ("schedule.warmup_env_steps",),
    },
}


CEILING_CASES = ("dqn_boxing_pixels", "dqn_boxing_ram", "ppo_hopper")
DQN_CASES = ("dqn_boxing_ram", "dqn_boxing_pixels")  # the DQN cases (bench-loop-parts and bench-linear time their parts)


def sides(name: str) -> tuple[str, ...]:
    """The sides of a case in the order of an even repetition (odd ones run them reversed)."""
    return ("sb3", "matched", *(("compiled",) if "compiled" in CASES[name] else ()), "defaults")


def window_sps(readings: list[tuple[int, float]], after_env_step: int) -> tuple[float, int]:
    """Env steps per second from the first reading past ``after_env_step`` to the last reading."""
    window = [r for r in readings if r[0] > after_env_step]
    (step0, t0), (step1, t1) = window[0], window[-1]
    return (step1 - step0) / (t1 - t0), step1 - step0


def rlkit_command(overrides: list[str], total: int, warmup: int, interval: int, warmup_keys: tuple[str, ...],
                  run_dir: Path) -> list[str]:
    """``python -m rlkit`` as a user runs it, for ``total`` env steps logged every ``interval``, into ``run_dir``
    (evaluation and checkpoints pushed past the end, W&B off)."""
    schedule = [f"schedule.total_env_steps={total}", f"schedule.log_interval_env_steps={interval}",
                f"schedule.eval_interval_env_steps={100 * total}", f"schedule.save_interval_env_steps={100 * total}",
                "schedule.eval_episodes=1", "hardware.eval_num_envs=1",
                "logger.progress_bar=false", "logger.wandb_mode=disabled", f"hydra.run.dir={run_dir}"]
    schedule += [f"{key}={warmup}" for key in warmup_keys]
    return [sys.executable, "-m", "rlkit", *overrides, *schedule]


def run_rate(run_dir: Path, warmup: int) -> dict:
    """The rate of a finished run from its training rows (env step, wall time), past the warm-up."""
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if "sps" in r]
    sps, window = window_sps([(r["env_step"], r["wall_time_s"]) for r in rows], warmup)
    return {"sps": round(sps, 2), "window_env_steps": window}


def rlkit_run(overrides: list[str], total: int, warmup: int, interval: int, warmup_keys: tuple[str, ...]) -> dict:
    """``python -m rlkit`` as a user runs it; the rate from its training rows (env step, wall time)."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cmd = rlkit_command(overrides, total, warmup, interval, warmup_keys, run_dir)
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return run_rate(run_dir, warmup)


def sb3_run(args: list[str], total: int, warmup: int, interval: int) -> dict:
    cmd = [str(SB3_PYTHON), str(REPO / "benchmarks" / "peers_sb3.py"), *args, "--total", str(total),
           "--warmup", str(warmup), "--interval", str(interval)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def build_run(overrides: list[str]):
    """rlkit's own envs and agent for a config, as ``python -m rlkit`` builds them."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from rlkit import build
    from rlkit.config import register_schemas, to_run_config

    register_schemas()
    GlobalHydra.instance().clear()
    initialize_config_dir(config_dir=str(REPO / "rlkit" / "conf"), version_base="1.3")
    run = to_run_config(compose(config_name="config", overrides=overrides))
    entry = build.algo_entry(run)
    device = build.select_device(run)
    envs, eval_envs = build.build_envs(run, entry)
    eval_envs.close()
    return run, envs, build.build_agent(run, entry, envs, device)


def cpu_description() -> str:
    """The CPU's model name and vendor (speed ratios depend on both: MKL's sgemm, for one, is tuned
    for Intel's CPUs)."""
    model = cpuinfo_field("model name") or platform.processor() or "unknown"
    return f"{model} ({cpu_vendor() or 'vendor unknown'})"


def write_results(stem: str, results: dict, markdown_text: str) -> None:
    """benchmarks/results/<stem>.json and <stem>.md; the Markdown is printed too."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown_text)
    print(markdown_text)


def seconds_per_call(call, seconds: float) -> float:
    """The mean wall time of ``call()``, called repeatedly for about ``seconds``."""
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        call()
        calls += 1
    return (time.perf_counter() - start) / calls


def dqn_with_replay(overrides: list[str], env_steps: int = 600):
    """``build_run`` for a DQN config, its replay holding ``env_steps`` random vector steps (enough
    to sample batches from): run, envs, agent, the last step's obs and a random generator."""
    run, envs, agent = build_run(overrides)
    rng = np.random.default_rng(0)
    obs = envs.reset(seed=0)
    agent.replay.start(obs)
    is_reset_step = np.zeros(envs.num_envs, dtype=bool)  # NEXT_STEP autoreset: the step after an episode's end
    for _ in range(env_steps):
        actions = rng.integers(envs.spec.n_actions, size=envs.num_envs).astype(np.int64)
        step = envs.step(actions)
        agent.replay.add(actions, step.reward, step.terminated, step.truncated, step.obs, is_reset_step)
        is_reset_step = step.terminated | step.truncated
        obs = step.obs
    return run, envs, agent, obs, rng


def matched_dqn_learner(case: str, batch_size: int, env_steps: int, overrides: list[str]):
    """A matched DQN case's learner at ``batch_size`` with more ``overrides``, and its replay holding
    ``env_steps`` random env steps (the envs closed): run, learner, replay, random generator."""
    run, envs, agent, _, rng = dqn_with_replay(CASES[case]["matched"] + [f"schedule.batch_size={batch_size}",
                                                                         *overrides], env_steps)
    envs.close()
    return run, agent.learner, agent.replay, rng


def dqn_ceiling(overrides: list[str], seconds: float) -> dict:
    """The matched DQN's ceiling from its parts, each timed apart with rlkit's own pieces."""
    run, envs, agent, obs, rng = dqn_with_replay(overrides)
    batches = [agent.replay.sample(run.schedule.batch_size, rng) for _ in range(8)]
    agent.learner.update(batches[0], 10**7)  # first-call costs outside the timing
    update_calls = itertools.count()
    update_s = seconds_per_call(lambda: agent.learner.update(batches[next(update_calls) % len(batches)], 10**7),
                                seconds)
    latest = {"obs": obs}

    def act_and_step() -> None:  # the window's acting: epsilon 0.01 (the schedule's end)
        latest["obs"] = envs.step(agent.actor.act(latest["obs"], 10**7)).obs

    step_s = seconds_per_call(act_and_step, seconds) / envs.num_envs
    envs.close()
    per_env_step = run.schedule.updates_per_env_step
    return {"update_s": round(update_s, 5), "env_step_and_inference_s": round(step_s, 6),
            "updates_per_env_step": per_env_step, "ceiling_sps": round(1.0 / (update_s * per_env_step + step_s), 2)}


def ppo_ceiling(overrides: list[str], seconds: float) -> dict:
    """The matched PPO's ceiling from its parts, each timed apart with rlkit's own pieces: a bare
    vector env step, the actor's sampling step, and one rollout's update divided by its env steps."""
    run, envs, agent = build_run(overrides)
    obs = agent.actor.observe(envs.reset(seed=0))
    buffer, is_reset_step = agent.buffer, np.zeros(envs.num_envs, dtype=bool)  # NEXT_STEP autoreset
    for _ in range(buffer.num_steps):  # one real rollout to learn from
        step = agent.actor.act(obs)
        result = envs.step(agent.actor.env_actions(step.actions))
        buffer.add(obs, step.actions, step.log_probs, step.values, result.reward, result.terminated,
                   result.truncated, ~is_reset_step)
        is_reset_step = (result.terminated | result.truncated) & ~is_reset_step
        obs = agent.actor.observe(result.obs)
    batch = buffer.batch(agent.actor.value(obs), torch.as_tensor(obs))
    rollout_env_steps = buffer.num_steps * envs.num_envs
    agent.learner.update(batch, 0)  # first-call costs outside the timing
    update_s = seconds_per_call(lambda: agent.learner.update(batch, 0), seconds)
    low, high, rng = envs.spec.action_low, envs.spec.action_high, np.random.default_rng(0)
    env_step_s = seconds_per_call(lambda: envs.step(rng.uniform(low, high, size=(envs.num_envs, *envs.spec.action_shape))
                                                    .astype(np.float32)), seconds) / envs.num_envs
    act_s = seconds_per_call(lambda: agent.actor.act(obs), seconds) / envs.num_envs
    envs.close()
    per_env_step = update_s / rollout_env_steps
    return {"rollout_update_s": round(update_s, 4), "rollout_env_steps": rollout_env_steps,
            "env_step_s": round(env_step_s, 7), "act_s": round(act_s, 7),
            "ceiling_sps": round(1.0 / (per_env_step + env_step_s + act_s), 2)}


def measure_ceiling(name: str, seconds: float) -> dict:
    """The ceiling of a CEILING_CASES case at its matched settings."""
    if name == "ppo_hopper":
        return ppo_ceiling(CASES[name]["matched"], seconds)
    return dqn_ceiling(CASES[name]["matched"] + ["schedule.warmup_env_steps=500", "schedule.total_env_steps=5000"],
                       seconds)


def median_ceiling(measured: list[dict]) -> dict:
    """The repetition with the median ceiling (its parts add up to it), with the median of the paired
    fractions and of rlkit's rates over all repetitions, and every repetition."""
    middle = sorted(measured, key=lambda m: m["ceiling_sps"])[(len(measured) - 1) // 2]
    return {**middle, "rlkit_sps": statistics.median(m["rlkit_sps"] for m in measured),
            "fraction": statistics.median(m["fraction"] for m in measured), "repetitions": measured}


def paired_ratios(runs: dict[str, list[dict]]) -> dict[str, list[float]]:
    """Each rlkit side's rate over SB3's in the same repetition, per repetition, for the sides that
    have one run per repetition: within a repetition the sides run minutes apart at most (the
    same-settings run right next to SB3's), so a drift of the machine's speed between repetitions
    cancels."""
    sb3 = [run["sps"] for run in runs["sb3"]]
    return {side: [round(run["sps"] / base, 3) for run, base in zip(side_runs, sb3)]
            for side, side_runs in runs.items() if side != "sb3" and len(side_runs) == len(sb3)}


def collection_rates(num_envs: int, rounds: int, vector_steps: int, replay_capacity: int | None = None,
                     backed_bytes: int = 0) -> dict[str, float]:
    """The bare AtariVectorEnv step rate (ale_py's, its own instance at the backend's settings) and
    rlkit's collection (the agent's train step through ``TrainingEnvs``, as the runner calls it,
    during the warm-up: random actions, rlkit's Atari backend, episode bookkeeping, replay writes,
    no learning), in one process, alternating
    ``rounds`` times ``vector_steps`` vector steps each: medians of env steps per second.

    With ``replay_capacity`` the replay is filled past its capacity first, so the timed writes go
    into memory written before; without, they are the default replay's first pass (fresh memory,
    whose first touch costs page faults the bare env does not pay). With ``backed_bytes`` a block of
    that size is written and freed before the replay is built: the first pass then faults in pages
    the machine has backed before (a VM backs a guest page on its first touch since boot, which
    costs far more than the guest's own page fault)."""
    if backed_bytes:
        block = np.empty(backed_bytes, dtype=np.uint8)
        block.fill(1)
        del block
    capacity = [] if replay_capacity is None else [f"schedule.replay_capacity_transitions={replay_capacity}"]
    run, vector_env, agent = build_run(["algo=dqn", "env=boxing", f"hardware.num_envs={num_envs}", *capacity,
                                        "schedule.total_env_steps=1000000000", "schedule.warmup_env_steps=999999999"])
    envs = TrainingEnvs(vector_env, EpisodeTracker(num_envs), run.schedule.total_env_steps)
    agent.start(envs.reset(seed=0))
    if replay_capacity is not None:
        while agent.replay.num_added_transitions < 2 * replay_capacity:
            agent.train_step(envs)

    # the bare side is ale_py's own AtariVectorEnv, built with the same settings as the backend's:
    # what a user stepping it directly gets (rlkit's backend adds episodic life, the frame cap and
    # the restart steps, which collection pays and the bare env does not)
    from ale_py.vector_env import AtariVectorEnv

    bare_env = AtariVectorEnv(**vector_env.settings)
    bare_env.reset(seed=0)

    def bare() -> None:
        bare_env.step(agent.actor.random(num_envs))

    def collect() -> None:
        agent.train_step(envs)

    rates: dict[str, list[float]] = {"bare": [], "collection": []}
    for _ in range(rounds):
        for name, call in (("bare", bare), ("collection", collect)):
            start = time.perf_counter()
            for _ in range(vector_steps):
                call()
            rates[name].append(vector_steps * num_envs / (time.perf_counter() - start))
    vector_env.close()
    bare_env.close()
    return {name: statistics.median(values) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5,
                        help="repetitions of each case (one repetition's ratio can differ from the next by a third)")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--seconds", type=float, default=5.0, help="per part of a ceiling")
    parser.add_argument("--name", default="peers", help="results file name under benchmarks/results")
    parser.add_argument("--keep-runs", action="store_true",
                        help="take the rates recorded in <name>_runs.json (by an earlier invocation) instead of "
                             "measuring them again; the collection is measured anew, the ceilings (each timed right "
                             "after its matched run) stay as recorded")
    parser.add_argument("--print-pins", action="store_true",
                        help="print the env packages' versions of this venv (the SB3 venv installs the same)")
    args = parser.parse_args()
    if args.print_pins:
        from importlib.metadata import version
        print(" ".join(f"{name}=={version(name)}" for name in ("gymnasium", "ale-py", "mujoco", "numpy")))
        return
    if not SB3_PYTHON.exists():
        sys.exit(f"{SB3_PYTHON} is missing: run `make bench-peers` (it creates the SB3 venv first)")
    runs_file = RESULTS / f"{args.name}_runs.json"  # every rate as it is measured: a crash keeps them
    cpu = cpu_description()
    # cases measured by an earlier invocation stay in the results unless measured again now
    recorded = json.loads(runs_file.read_text()) if runs_file.exists() else {}
    samples: dict[str, dict[str, list[dict]]] = {name: {side: [] for side in sides(name)} for name in args.cases}
    if args.keep_runs:
        missing = [name for name in args.cases if name not in recorded]
        if missing:
            sys.exit(f"--keep-runs: {runs_file} holds no runs of {', '.join(missing)}; leave them out of --cases "
                     f"(it holds {', '.join(recorded) or 'none'})")
        samples = {name: recorded[name] for name in args.cases}
    # a ceiling is measured in each repetition right after its matched run: this machine's speed drifts
    # from minute to minute, and a ceiling timed at another moment is no bound for that run
    ceilings: dict[str, list[dict]] = {name: [] for name in CEILING_CASES if name in args.cases}
    for repeat in range(0 if args.keep_runs else args.repeats):
        for name in args.cases:
            case = CASES[name]
            window = (case["total"], case["warmup"], case["interval"])
            order = sides(name) if repeat % 2 == 0 else sides(name)[::-1]
            for side in order:
                result = (sb3_run(case["sb3"], *window) if side == "sb3"
                          else rlkit_run(case[side], *window, case["warmup_keys"]))
                # the CPU with each rate: rows kept from an earlier invocation may come from another host
                samples[name][side].append({**result, "date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu})
                RESULTS.mkdir(parents=True, exist_ok=True)
                runs_file.write_text(json.dumps({**recorded, **samples}, indent=1) + "\n")
                print(f"repeat {repeat} {name} {side}: {result['sps']:.1f} env steps/s", flush=True)
                if side == "matched" and name in ceilings:
                    ceiling = measure_ceiling(name, args.seconds)
                    ceilings[name].append({**ceiling, "rlkit_sps": result["sps"],
                                           "fraction": round(result["sps"] / ceiling["ceiling_sps"], 3)})
                    print(f"repeat {repeat} {name} ceiling: {ceiling['ceiling_sps']:.1f} env steps/s", flush=True)
    samples = {name: ({**recorded, **samples})[name] for name in CASES if name in {**recorded, **samples}}
    rows = {}
    for name in samples:
        medians = {side: statistics.median(r["sps"] for r in runs) for side, runs in samples[name].items()}
        rows[name] = {"median_sps": medians, "runs": samples[name],
                      **{f"ratio_{side}": round(medians[side] / medians["sb3"], 3) for side in medians if side != "sb3"},
                      "paired_ratios": paired_ratios(samples[name])}
    results = {"machine": {"cpus": os.cpu_count(), "cpu": cpu_description(), "python": platform.python_version(),
                           "torch": torch.__version__,
                           "date": time.strftime("%Y-%m-%d %H:%M")},
               # the repetitions behind the rows (rows kept from an earlier invocation may have another count)
               "repeats": sorted({len(runs["sb3"]) for runs in samples.values()}),
               "cases": rows, "settings": {k: CASES[k] for k in samples}}
    earlier = RESULTS / f"{args.name}.json"
    if earlier.exists():  # the ceilings and collection of cases not measured now stay with their rows
        previous = json.loads(earlier.read_text())
        kept = [f"ceiling_{name}" for name in CEILING_CASES if args.keep_runs or name not in args.cases]
        kept += ["collection"] if "dqn_boxing_pixels" not in args.cases else []
        results.update({key: previous[key] for key in kept if key in previous})
    for name, measured in ceilings.items():
        if measured:
            results[f"ceiling_{name}"] = {**median_ceiling(measured), "date": time.strftime("%Y-%m-%d %H:%M")}
    if "dqn_boxing_pixels" in args.cases:
        # The replay's first pass writes into memory the process has never touched: every new page is
        # a page fault, which the bare env does not pay. So collection is measured twice: into the
        # default replay (the first pass, as a run's first 100k transitions are) and into a small
        # replay that has wrapped (writes into touched memory: the runner's own cost).
        # The bare env and the collection alternate every 100 vector steps in one process: this
        # machine's speed drifts from minute to minute, more than the difference measured.
        num_envs = 8
        # On a VM the first pass also pays the host's backing of guest memory never touched since
        # boot; measured a third time into fresh memory the VM has backed, that part is set apart.
        fresh = collection_rates(num_envs, rounds=30, vector_steps=100)
        backed = collection_rates(num_envs, rounds=30, vector_steps=100, backed_bytes=1 << 30)
        wrapped = collection_rates(num_envs, rounds=30, vector_steps=100, replay_capacity=2_000)
        results["collection"] = {
            "num_envs": num_envs, "bare_ale_vector_sps": round(fresh["bare"], 1),
            "rlkit_collection_sps": round(fresh["collection"], 1),
            "fraction": round(fresh["collection"] / fresh["bare"], 3),
            "bare_ale_vector_backed_sps": round(backed["bare"], 1),
            "rlkit_collection_backed_sps": round(backed["collection"], 1),
            "fraction_backed": round(backed["collection"] / backed["bare"], 3),
            "bare_ale_vector_wrapped_sps": round(wrapped["bare"], 1),
            "rlkit_collection_wrapped_sps": round(wrapped["collection"], 1),
            "fraction_wrapped": round(wrapped["collection"] / wrapped["bare"], 3),
            "date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu_description()}
    write_results(args.name, results, markdown(results, args.name))


def repetitions(repeats: int | list[int]) -> str:
    """'5', or '3 to 5' when the rows come from invocations with different counts."""
    counts = sorted(set(repeats)) if isinstance(repeats, list) else [repeats]
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"


def markdown(results: dict, stem: str) -> str:
    lines = ["# rlkit beside Stable-Baselines3 (make bench-peers)", "",
             f"Machine (this invocation's): {results['machine']}; median of {repetitions(results['repeats'])} "
             "repetitions, sides alternating. "
             f"Env steps per second after the warm-up; settings in {stem}.json and benchmarks/peers.py. "
             "Each row's sides ran alternating in one run on idle cores; rows of other days are not comparable "
             "with each other (this machine's speed varies from day to day), their ratios are.", "",
             "| case | SB3 | rlkit, same settings | ratio | rlkit, same settings, compiled | ratio | rlkit defaults "
             "| ratio | measured |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, row in results["cases"].items():
        m = row["median_sps"]
        cells = [f"{m[side]:.1f} | {row[f'ratio_{side}']:.2f}" if side in m else "- | -"
                 for side in ("matched", "compiled", "defaults")]
        runs = [run for side_runs in row["runs"].values() for run in side_runs]
        dates = sorted(run["date"][:10] for run in runs if "date" in run) or ["-"]
        cpus = sorted({run["cpu"] for run in runs if "cpu" in run})
        lines.append(f"| {name} | {m['sb3']:.1f} | {' | '.join(cells)} | {dates[-1]}"
                     f"{', ' + ' / '.join(cpus) if cpus else ''} |")
    paired = [(name, row["paired_ratios"]["matched"]) for name, row in results["cases"].items()
              if row.get("paired_ratios", {}).get("matched")]
    if paired:
        lines += ["", "The ratio column is the median rlkit rate over the median SB3 rate. Paired per repetition "
                  "instead (each repetition's rlkit run at the same settings over the SB3 run next to it, so a "
                  "drift of the machine's speed between repetitions cancels):"]
        lines += [f"- {name}: {', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}"
                  for name, ratios in paired]
    for name in (n for n in CEILING_CASES if f"ceiling_{n}" in results):
        c = results[f"ceiling_{name}"]
        measured = f" (measured {c['date'][:10]})" if "date" in c else ""
        sb3 = results["cases"][name]["median_sps"]["sb3"]
        if "rollout_update_s" in c:
            parts = (f"- one rollout's update {c['rollout_update_s']:.2f} s / {c['rollout_env_steps']} env steps, "
                     f"bare env step {c['env_step_s'] * 1e6:.0f} us and sampling step {c['act_s'] * 1e6:.0f} us "
                     f"per env step: ceiling {c['ceiling_sps']:.1f} env steps/s;")
        else:
            parts = (f"- bare update {c['update_s'] * 1000:.1f} ms x {c['updates_per_env_step']} updates per env "
                     f"step, bare env step and greedy inference {c['env_step_and_inference_s'] * 1000:.2f} ms per "
                     f"env step: ceiling {c['ceiling_sps']:.1f} env steps/s;")
        lines += ["", f"{name}, same settings, against rlkit's own ceiling{measured}:", parts,
                  f"- rlkit {c['rlkit_sps']:.1f}: {c['fraction']:.2f} of the ceiling (the median of each repetition's "
                  f"run over the ceiling measured right after it); at the ceiling the ratio to "
                  f"SB3's {sb3:.1f} would be {c['ceiling_sps'] / sb3:.2f}."]
    if "collection" in results:
        k = results["collection"]
        lines += ["", f"DQN on Boxing pixels, collection alone ({k['num_envs']} envs, random actions through "
                  "rlkit's Atari backend, replay writes, no learning) against the bare AtariVectorEnv (ale_py's own, "
                  "same settings), alternating every 100 vector steps in one process, medians of 30 rounds"
                  + (f" (measured {k['date']}, {k['cpu']})" if "cpu" in k else "") + ":",
                  f"- into the default replay's first pass (fresh memory): {k['rlkit_collection_sps']:.0f} env "
                  f"steps/s against {k['bare_ale_vector_sps']:.0f}, {k['fraction']:.2f};"]
        if "rlkit_collection_backed_sps" in k:
            lines += [f"- the same first pass, in a process that first wrote and freed 1 GiB (fresh pages the VM "
                      f"has backed before): {k['rlkit_collection_backed_sps']:.0f} against "
                      f"{k['bare_ale_vector_backed_sps']:.0f}, {k['fraction_backed']:.2f};"]
        if "rlkit_collection_wrapped_sps" in k:
            lines += [f"- into a 2,000-transition replay that has wrapped (memory written before): "
                      f"{k['rlkit_collection_wrapped_sps']:.0f} against {k['bare_ale_vector_wrapped_sps']:.0f}, "
                      f"{k['fraction_wrapped']:.2f}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
