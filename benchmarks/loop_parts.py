"""make bench-loop-parts: the DQN training step's parts timed alone and in the loop's order.

bench-peers' ceiling adds up the parts of a training step, each timed in a tight loop of its own
(back to back, so its code and data stay in the caches). The training loop runs them interleaved:
for each env step the action, the env step and the replay write, then, when an update is due, a
sample and the update, each part after the others have filled the caches with their own data.
This benchmark times every part both ways at bench-peers' matched settings, in one process,
alternating a tight block and a loop-order block each round (this machine's speed drifts from
minute to minute), and reports medians: in the loop's order the action and the env step are
split into the first after an update and the later ones. The sum of a cycle's parts (one update
and the env steps that earn it) gives a rate from the tight parts (bench-peers' ceiling) and one
from the parts as the loop runs them; a third block per round runs the agent's own
``train_step`` for as many env steps (what the runner calls; the runner's clock, logging and
checks are the rest of a real run).

Writes benchmarks/results/loop_parts.json and loop_parts.md (``--name``: another stem). Run on idle cores.

``--openmp`` instead runs the same measurement under OpenMP settings that change how torch's idle
threads wait between parallel regions (spinning, sleeping at once, a shorter spin) or pin them to
cores. libgomp reads them when torch loads, so each setting runs in a fresh process; the settings
alternate, in reversed order on odd repetitions, and the medians and each repetition's ratio to
the default beside it go to benchmarks/results/loop_parts_openmp.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import CASES, DQN_CASES, cpu_description, dqn_with_replay, write_results  # noqa: E402

from rlkit.episodes import EpisodeTracker  # noqa: E402
from rlkit.runner import TrainingEnvs  # noqa: E402

LATE_ENV_STEP = 10**7  # the schedules' end: epsilon at its final value, as in bench-peers' window
PARTS = ("act", "env_step", "replay_add", "sample", "update")

# --openmp: the environment of each setting (libgomp's; torch's CPU wheels use GNU OpenMP)
OPENMP_SETTINGS = {
    "default": {},
    "threads sleep at once": {"OMP_WAIT_POLICY": "PASSIVE"},
    "threads keep spinning": {"OMP_WAIT_POLICY": "ACTIVE"},
    "short spin (GOMP_SPINCOUNT=10000)": {"GOMP_SPINCOUNT": "10000"},
    "threads pinned to cores": {"OMP_PROC_BIND": "true", "OMP_PLACES": "cores"},
}
OPENMP_KEYS = {key for setting in OPENMP_SETTINGS.values() for key in setting}


def measure(name: str, rounds: int, cycles: int) -> dict:
    """Medians over ``rounds`` of the parts of ``name``'s matched config: tight and in loop order."""
    # learning and the final epsilon from the first env step on (the replay is filled already)
    overrides = ["schedule.total_env_steps=100000000", "schedule.warmup_env_steps=1000",
                 "schedule.epsilon_decay_env_steps=1000"]
    run, vector_env, agent, obs, rng = dqn_with_replay(CASES[name]["matched"] + overrides)
    envs = TrainingEnvs(vector_env, EpisodeTracker(vector_env.num_envs), run.schedule.total_env_steps,
                        env_step=run.schedule.warmup_env_steps)
    updates_per_vector_step = run.schedule.updates_per_env_step * envs.num_envs
    steps_per_update = round(1 / updates_per_vector_step)
    if steps_per_update < 1 or abs(steps_per_update * updates_per_vector_step - 1) > 1e-9:
        raise ValueError(f"{name}: one update per whole number of vector steps needed, not {updates_per_vector_step}")
    actor, replay, learner, batch_size = agent.actor, agent.replay, agent.learner, run.schedule.batch_size
    state = {"obs": obs, "step": None}
    learner.update(replay.sample(batch_size, rng), LATE_ENV_STEP)  # first-call costs outside the timing

    def act():
        state["actions"] = actor.act(state["obs"], LATE_ENV_STEP)

    def env_step():
        state["step"] = envs.step(state["actions"])
        state["obs"] = state["step"].obs

    def replay_add():
        step = state["step"]
        replay.add(state["actions"], step.reward, step.terminated, step.truncated, step.obs, step.is_reset_step)

    def sample():
        state["batch"] = replay.sample(batch_size, rng)

    def update():
        learner.update(state["batch"], LATE_ENV_STEP)

    calls = {"act": act, "env_step": env_step, "replay_add": replay_add, "sample": sample, "update": update}
    for part in (act, env_step, sample):  # every part's state exists before the first timed block
        part()
    tight: dict[str, list[float]] = {part: [] for part in PARTS}
    in_loop: dict[str, list[float]] = {key: [] for key in ("act_after_update", "act_later", "env_step_after_update",
                                                           "env_step_later", "replay_add", "sample", "update")}
    clock = time.perf_counter
    train_step_sps: list[float] = []
    for _ in range(rounds):
        for part in PARTS:  # tight: each part back to back (the same count as in a loop-order block)
            count = cycles * (steps_per_update if part in ("act", "env_step", "replay_add") else 1)
            start = clock()
            for _ in range(count):
                calls[part]()
            tight[part].append((clock() - start) / count)
        times = {key: [] for key in in_loop}
        for _ in range(cycles):  # the loop's order: ValueAgent.train_step's synchronous path
            for j in range(steps_per_update):
                later = "later" if j else "after_update"
                for part, key in ((act, f"act_{later}"), (env_step, f"env_step_{later}"), (replay_add, "replay_add")):
                    start = clock()
                    part()
                    times[key].append(clock() - start)
            for part, key in ((sample, "sample"), (update, "update")):
                start = clock()
                part()
                times[key].append(clock() - start)
        for key, values in times.items():
            if values:
                in_loop[key].append(statistics.mean(values))
        agent.obs, first_env_step, start = state["obs"], envs.env_step, clock()
        for _ in range(cycles * steps_per_update):
            agent.train_step(envs)
        train_step_sps.append((envs.env_step - first_env_step) / (clock() - start))
        state["obs"] = agent.obs
    vector_env.close()
    tight_s = {part: statistics.median(values) for part, values in tight.items()}
    loop_s = {key: statistics.median(values) for key, values in in_loop.items() if values}
    tight_cycle = (steps_per_update * (tight_s["act"] + tight_s["env_step"] + tight_s["replay_add"])
                   + tight_s["sample"] + tight_s["update"])
    later = loop_s.get("act_later", 0.0) + loop_s.get("env_step_later", 0.0)
    loop_cycle = (loop_s["act_after_update"] + loop_s["env_step_after_update"] + (steps_per_update - 1) * later
                  + steps_per_update * loop_s["replay_add"] + loop_s["sample"] + loop_s["update"])
    env_steps_per_cycle = steps_per_update * envs.num_envs
    return {"num_envs": envs.num_envs, "vector_steps_per_update": steps_per_update, "rounds": rounds,
            "cycles_per_block": cycles, "tight_s": tight_s, "loop_order_s": loop_s,
            "tight_sps": env_steps_per_cycle / tight_cycle, "loop_order_sps": env_steps_per_cycle / loop_cycle,
            "train_step_sps": statistics.median(train_step_sps),
            "cpu": cpu_description(), "date": time.strftime("%Y-%m-%d %H:%M")}


def markdown(results: dict) -> str:
    lines = ["# The DQN training step's parts, alone and in the loop's order (make bench-loop-parts)", "",
             "bench-peers' matched settings; medians over alternating rounds in one process (benchmarks/loop_parts.py). "
             "Tight: each part back to back. Loop order: act, env step and replay write per env step, then "
             "sample and update, as ValueAgent.train_step runs them; the action and the env step split into "
             "the first after an update and the later ones.", ""]
    for name, r in results.items():
        t, lp = r["tight_s"], r["loop_order_s"]
        us = lambda s: f"{s * 1e6:,.0f} us"  # noqa: E731
        later = lambda key: us(lp[key]) if key in lp else "-"  # noqa: E731
        lines += [f"## {name} ({r['num_envs']} env, one update per {r['vector_steps_per_update']} vector steps, "
                  f"{r['rounds']} rounds of {r['cycles_per_block']} cycles, CPU {r.get('cpu', 'not recorded')}, "
                  f"{r['date']})", "",
                  "| part | tight | loop order, first after an update | loop order, later |",
                  "|---|---|---|---|",
                  f"| act | {us(t['act'])} | {us(lp['act_after_update'])} | {later('act_later')} |",
                  f"| env step | {us(t['env_step'])} | {us(lp['env_step_after_update'])} | {later('env_step_later')} |",
                  f"| replay write | {us(t['replay_add'])} | {us(lp['replay_add'])} | |",
                  f"| sample | {us(t['sample'])} | {us(lp['sample'])} | |",
                  f"| update | {us(t['update'])} | {us(lp['update'])} | |", "",
                  f"From the tight parts: {r['tight_sps']:,.1f} env steps/s; from the parts in the loop's order: "
                  f"{r['loop_order_sps']:,.1f} ({r['loop_order_sps'] / r['tight_sps']:.2f} of it); the agent's "
                  f"train_step: {r['train_step_sps']:,.1f} ({r['train_step_sps'] / r['tight_sps']:.2f}).", ""]
    return "\n".join(lines)


def measure_in_process(name: str, setting: dict[str, str], rounds: int, cycles: int) -> dict:
    """``measure`` in a fresh process whose environment has ``setting`` (and no other OpenMP keys)."""
    env = {key: value for key, value in os.environ.items() if key not in OPENMP_KEYS} | setting
    command = [sys.executable, __file__, "--cases", name, "--rounds", str(rounds), "--cycles", str(cycles),
               "--print-json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name} with {setting or 'the default'} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare_openmp(names: list[str], repetitions: int, rounds: int, cycles: int) -> dict:
    """The agent's train_step and the tight parts' rate under each OpenMP setting, alternating."""
    results = {}
    for name in names:
        runs: dict[str, list[dict]] = {label: [] for label in OPENMP_SETTINGS}
        for rep in range(repetitions):
            labels = list(OPENMP_SETTINGS) if rep % 2 == 0 else list(reversed(OPENMP_SETTINGS))
            for label in labels:
                runs[label].append(measure_in_process(name, OPENMP_SETTINGS[label], rounds, cycles))
                print(f"{name} rep {rep} {label}: train_step {runs[label][-1]['train_step_sps']:.1f} env steps/s",
                      flush=True)
        default = [r["train_step_sps"] for r in runs["default"]]
        results[name] = {"repetitions": repetitions, "rounds": rounds, "cycles_per_block": cycles,
                         "cpu": cpu_description(), "date": time.strftime("%Y-%m-%d %H:%M"), "settings": {label: {
                             "env": OPENMP_SETTINGS[label],
                             "train_step_sps": [r["train_step_sps"] for r in rs],
                             "tight_sps": [r["tight_sps"] for r in rs],
                             "median_train_step_sps": statistics.median(r["train_step_sps"] for r in rs),
                             "median_tight_sps": statistics.median(r["tight_sps"] for r in rs),
                             "paired_ratio_to_default": [r["train_step_sps"] / d for r, d in zip(rs, default)],
                         } for label, rs in runs.items()}}
    return results


def openmp_markdown(results: dict) -> str:
    lines = ["# The DQN training step under OpenMP settings (make bench-loop-parts ARGS=--openmp)", "",
             "bench-loop-parts' measurement at bench-peers' matched settings, each setting in a fresh process "
             "(libgomp reads its environment when torch loads), the settings alternating, in reversed order on "
             "odd repetitions. train_step: the agent's own step, env steps/s; tight: the parts timed back to "
             "back (bench-peers' ceiling). Medians; the paired ratio divides each repetition's train_step rate "
             "by the default's in the same repetition.", ""]
    for name, r in results.items():
        lines += [f"## {name} ({r['repetitions']} repetitions of {r['rounds']} rounds, CPU "
                  f"{r.get('cpu', 'not recorded')}, {r['date']})", "",
                  "| OpenMP setting | environment | train_step | tight parts | paired ratio to default (median) |",
                  "|---|---|---|---|---|"]
        for label, setting in r["settings"].items():
            env = " ".join(f"{key}={value}" for key, value in setting["env"].items()) or "(none)"
            lines.append(f"| {label} | {env} | {setting['median_train_step_sps']:,.1f} | "
                         f"{setting['median_tight_sps']:,.1f} | {statistics.median(setting['paired_ratio_to_default']):.2f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(DQN_CASES), choices=DQN_CASES)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=40, help="update cycles per block")
    parser.add_argument("--openmp", action="store_true", help="compare OpenMP settings (module docstring)")
    parser.add_argument("--repetitions", type=int, default=3, help="--openmp: processes per setting")
    parser.add_argument("--print-json", action="store_true", help=argparse.SUPPRESS)  # --openmp's worker
    parser.add_argument("--name", default=None,
                        help="results file name under benchmarks/results (default: loop_parts, or loop_parts_openmp)")
    args = parser.parse_args()
    if args.openmp:
        results = compare_openmp(args.cases, args.repetitions, args.rounds, args.cycles)
        write_results(args.name or "loop_parts_openmp", results, openmp_markdown(results))
        return
    if args.print_json:
        print(json.dumps(measure(args.cases[0], args.rounds, args.cycles)))
        return
    results = {}
    for name in args.cases:
        results[name] = measure(name, args.rounds, args.cycles)
        print(f"{name}: tight {results[name]['tight_sps']:.1f}, loop order {results[name]['loop_order_sps']:.1f}, "
              f"train_step {results[name]['train_step_sps']:.1f} env steps/s", flush=True)
    write_results(args.name or "loop_parts", results, markdown(results))


if __name__ == "__main__":
    main()
