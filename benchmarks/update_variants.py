"""make bench-update-variants: what a Nature-CNN DQN update costs on this machine with each candidate
speed-up, timed apart on the same random batches (issue 15's list; the ones that help are kept):

- baseline: a Double DQN update (online(obs) with gradients, online(next_obs) and target(next_obs)
  without);
- batched: online(obs) and online(next_obs) in one forward of 2B (the next half detached);
- channels_last: the network and its input batches in channels-last memory format;
- compile: what ``hardware.compile=true`` does, on top of channels_last (rlkit's default since it was
  kept): torch.compile of the loss forward (online and target passes, the loss), backward and Adam
  eager; its compile time reported apart.

Those variants are a stand-alone update with torch's own kernels and optimizer step, written when
the choices were made. rlkit's learner has gained speed-ups of its own since (the wide layers in
oneDNN on non-Intel CPUs, the fused Adam step and the grad-norm clip without torch's per-call
wrappers), so a second table times ``ValueLearner.update`` itself, built as ``python -m rlkit``
builds it at bench-peers' matched settings, eager against ``hardware.compile=true``, on the Nature
CNN (Boxing pixels) and the RAM MLP, alternating rounds in a process of its own (the
host settings a run applies reach all its torch threads there). Its compile times are cold: that
process compiles into a fresh inductor cache (a user's later runs reuse theirs).

Writes benchmarks/results/update_variants.{json,md}. Run on idle cores.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# a fresh inductor cache for each process of this benchmark (unless the caller chose one), so its
# compile times are those of a first compile; set before torch loads: inductor reads it then
OWN_INDUCTOR_CACHE = "TORCHINDUCTOR_CACHE_DIR" not in os.environ
if OWN_INDUCTOR_CACHE:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="rlkit-update-variants-inductor-")
    atexit.register(shutil.rmtree, os.environ["TORCHINDUCTOR_CACHE_DIR"], ignore_errors=True)

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import cpu_description, matched_dqn_learner  # noqa: E402
from rlkit.algos.dqn.learner import QNetwork  # noqa: E402
from rlkit.networks.linear import cpu_linear_selected  # noqa: E402
from rlkit.networks.nature_cnn import NatureCNNConfig, build_nature_cnn  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
LEARNER_CELLS = (("dqn_boxing_pixels", 32), ("dqn_boxing_pixels", 256), ("dqn_boxing_ram", 64), ("dqn_boxing_ram", 256))


def make_net() -> torch.nn.Module:
    import numpy as np
    return QNetwork(build_nature_cnn(NatureCNNConfig(), (4, 84, 84), np.uint8), 18)


def update_fn(online, target, optimizer, batched: bool, compile: bool):
    def loss_fn(obs, next_obs, actions, rewards):
        if batched:
            q_all = online(torch.cat([obs, next_obs]))
            q, q_next_online = q_all[: len(obs)], q_all[len(obs):].detach()
            with torch.no_grad():
                q_next_target = target(next_obs)
        else:
            q = online(obs)
            with torch.no_grad():
                q_next_target = target(next_obs)
                q_next_online = online(next_obs)
        best = q_next_online.argmax(1, keepdim=True)
        y = rewards + 0.99 * q_next_target.gather(1, best).squeeze(1)
        return F.smooth_l1_loss(q.gather(1, actions[:, None]).squeeze(1), y)

    forward = torch.compile(loss_fn, dynamic=False) if compile else loss_fn

    def step(obs, next_obs, actions, rewards):
        loss = forward(obs, next_obs, actions, rewards)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(online.parameters(), 10.0)
        optimizer.step()
    return step


def time_variant(name: str, batch: int, seconds: float) -> dict:
    torch.manual_seed(0)
    online = make_net()
    target = make_net()
    target.load_state_dict(online.state_dict())
    memory = torch.channels_last if name in ("channels_last", "compile") else torch.contiguous_format
    online, target = online.to(memory_format=memory), target.to(memory_format=memory)
    optimizer = torch.optim.Adam(online.parameters(), lr=1e-4, eps=1.5e-4, fused=True)
    obs = torch.randint(0, 255, (batch, 4, 84, 84), dtype=torch.uint8).contiguous(memory_format=memory)
    next_obs = torch.randint(0, 255, (batch, 4, 84, 84), dtype=torch.uint8).contiguous(memory_format=memory)
    actions, rewards = torch.randint(0, 18, (batch,)), torch.randn(batch)
    step = update_fn(online, target, optimizer, batched=name == "batched", compile=name == "compile")
    compile_s = None
    if name == "compile":  # the first call compiles the forward and backward graphs
        start = time.perf_counter()
        step(obs, next_obs, actions, rewards)
        compile_s = time.perf_counter() - start
    step(obs, next_obs, actions, rewards)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(obs, next_obs, actions, rewards)
        count += 1
    return {"variant": name, "batch_size": batch, "update_ms": round(1000 * (time.perf_counter() - start) / count, 2),
            "updates_timed": count, "compile_s": None if compile_s is None else round(compile_s, 1)}


def time_learners(case: str, batch: int, rounds: int, seconds: float) -> dict:
    """rlkit's ValueLearner.update at bench-peers' matched settings for ``case`` and ``batch``, eager
    and compiled, in alternating rounds of about ``seconds`` each: the median ms per update of each."""
    learners = {"eager": matched_dqn_learner(case, batch, 600, [])[1]}
    _, learners["compiled"], replay, rng = matched_dqn_learner(case, batch, 600, ["hardware.compile=true"])
    batches = [replay.sample(batch, rng) for _ in range(8)]
    late_env_step = 10**7  # the schedules' end, as in bench-peers' window
    start = time.perf_counter()
    learners["compiled"].update(batches[0], late_env_step)  # compiles the forward and backward graphs
    compile_s = time.perf_counter() - start
    learners["eager"].update(batches[0], late_env_step)
    calls = {}
    for name, learner in learners.items():  # how many updates make a round of about ``seconds``
        start = time.perf_counter()
        learner.update(batches[1], late_env_step)
        calls[name] = max(3, round(seconds / (time.perf_counter() - start)))
    times: dict[str, list[float]] = {name: [] for name in learners}
    for round_index in range(rounds):
        names = list(learners) if round_index % 2 == 0 else list(learners)[::-1]
        for name in names:
            start = time.perf_counter()
            for i in range(calls[name]):
                learners[name].update(batches[i % len(batches)], late_env_step)
            times[name].append(1000 * (time.perf_counter() - start) / calls[name])
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {"case": case, "batch_size": batch, "rounds": rounds, "update_ms": {n: round(v, 3) for n, v in medians.items()},
            "update_ms_rounds": {n: [round(v, 3) for v in values] for n, values in times.items()},
            "compiled_over_eager": round(medians["compiled"] / medians["eager"], 3), "compile_s": round(compile_s, 1)}


def learner_lines(cells: list[dict]) -> list[str]:
    lines = ["", "## rlkit's learner, eager and `hardware.compile=true`", "",
             "`ValueLearner.update` as `python -m rlkit` builds it at bench-peers' matched settings (vanilla DQN "
             "targets, hard target copies, grad-norm clip 10, Adam), on the host settings a run applies "
             f"({cells[0]['host']}); medians over {cells[0]['rounds']} alternating rounds in one process. "
             "Compile: the first call's seconds, in a process that started with an empty inductor cache "
             "(the first row's is that process's first compile; later rows' reuse what it set up).", "",
             "| case | batch | eager (ms) | compiled (ms) | compiled / eager | compile (s) |", "|---|---|---|---|---|---|"]
    for cell in cells:
        ms = cell["update_ms"]
        lines.append(f"| {cell['case']} | {cell['batch_size']} | {ms['eager']:.2f} | {ms['compiled']:.2f} | "
                     f"{cell['compiled_over_eager']:.2f} | {cell['compile_s']:.0f} |")
    return lines


def learner_table(rounds: int, seconds: float) -> list[dict]:
    """The learner table's cells, measured in a fresh process: building a learner as a run does applies
    the run's host settings (threads, the wide layers' kernel, denormals, the allocator), and the
    denormal setting reaches every torch thread only in a process whose thread pool has not started."""
    env = dict(os.environ)
    if OWN_INDUCTOR_CACHE:
        del env["TORCHINDUCTOR_CACHE_DIR"]  # the child makes a fresh one of its own
    cmd = [sys.executable, __file__, "--learner-only", "--learner-rounds", str(rounds), "--seconds", str(seconds)]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_learners(rounds: int, seconds: float) -> list[dict]:
    cells = []
    for case, batch in LEARNER_CELLS:
        cells.append(time_learners(case, batch, rounds, seconds / rounds))
        print(cells[-1], file=sys.stderr, flush=True)
    host = f"{cpu_description()}, {torch.get_num_threads()} torch threads, the wide layers' kernel {cpu_linear_selected()}"
    return [dict(cell, host=host) for cell in cells]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--variants", nargs="+", default=["baseline", "batched", "channels_last", "compile"])
    parser.add_argument("--learner-rounds", type=int, default=6,
                        help="alternating rounds of the learner table (0: leave it out)")
    parser.add_argument("--learner-only", action="store_true",
                        help="only the learner table's cells, printed as JSON (what the full benchmark runs apart)")
    args = parser.parse_args()
    if args.learner_only:
        sys.stdout = sys.stderr  # (the builds print what they set) stdout carries the JSON alone
        cells = measure_learners(args.learner_rounds, args.seconds)
        sys.stdout = sys.__stdout__
        print(json.dumps(cells))
        return
    print(f"torch threads: {torch.get_num_threads()}")
    rows = []
    for batch in args.batch_sizes:
        for _ in range(2):  # two rounds, alternating: the median of two against drift
            for variant in args.variants:
                rows.append(time_variant(variant, batch, args.seconds / 2))
                print(rows[-1], flush=True)
    best = {}
    for row in rows:
        key = (row["variant"], row["batch_size"])
        best[key] = min(best.get(key, float("inf")), row["update_ms"])
    learner_cells = learner_table(args.learner_rounds, args.seconds) if args.learner_rounds > 0 else []
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "torch_threads": torch.get_num_threads(), "rows": rows,
               "learner": learner_cells}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "update_variants.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Nature-CNN Double DQN update, candidate speed-ups (make bench-update-variants)", "",
             f"{time.strftime('%Y-%m-%d %H:%M')}, CPU {cpu_description()}. A stand-alone Double DQN update "
             "(torch's kernels and optimizer step, as when the choices were made), torch threads "
             f"{torch.get_num_threads()}; the faster of two alternating rounds per cell.", "",
             "| variant | " + " | ".join(f"batch {b} (ms)" for b in args.batch_sizes) + " |",
             "|---|" + "---|" * len(args.batch_sizes)]
    for variant in args.variants:
        cells = []
        for b in args.batch_sizes:
            ratio = best[(variant, b)] / best[("baseline", b)]
            cells.append(f"{best[(variant, b)]:.1f} ({ratio:.2f}x)")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    first_compiles = {}  # batch -> the first round's compile time (a later round reuses the cached graph)
    for row in rows:
        if row["compile_s"] is not None:
            first_compiles.setdefault(row["batch_size"], row["compile_s"])
    if first_compiles:
        lines += ["", "torch.compile's first call (compile time): " + ", ".join(
            f"{seconds:.0f} s at batch {batch}" for batch, seconds in first_compiles.items())
            + "; the second round in the same process reused the compiled graph."]
    if learner_cells:
        lines += learner_lines(learner_cells)
    (RESULTS / "update_variants.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
