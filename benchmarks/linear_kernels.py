"""make bench-linear: the Q torsos' fully connected layers with torch's kernel and with oneDNN's
(hardware.cpu_linear=torch / onednn; rlkit/networks/linear.py), on this machine's CPU.

Three parts, each alternating the two kernels (this machine's speed drifts from minute to
minute), in reversed order on odd rounds, reporting medians:

- layers: each layer shape the torsos and heads have (a RAM MLP's 128->576 and 576->576, the
  Nature CNN's 3136->512, an 18-action head), at the rows an actor passes (1) and the batch sizes
  the configs learn from (32, 64, 256): a forward without gradients (acting, target passes) and a
  forward and backward with the weight's and the input's gradients (learning). The rule the torsos
  build with (oneDNN for layers whose widths are both >= WIDE_MIN_FEATURES) reads off this table.
- train step: bench-peers' matched DQN configs (Boxing RAM, Boxing pixels), the agent's own
  ``train_step`` (act, env step, replay write, and an update every 4 env steps) with the process's
  kernel switched between blocks, and each round's ratio of the two rates.
- runs: the same configs as ``python -m rlkit`` runs them (bench-peers' rlkit side: the rate after
  the warm-up), with hardware.cpu_linear=onednn and =torch alternating, and each pair's ratio.

Writes benchmarks/results/linear_kernels_<vendor>.{json,md} (amd, intel): which kernel is faster
depends on the CPU's vendor, and hardware.cpu_linear=auto chooses by it. Run on idle cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import CASES, DQN_CASES, cpu_description, dqn_with_replay, rlkit_run, write_results  # noqa: E402

from rlkit.episodes import EpisodeTracker  # noqa: E402
from rlkit.networks.linear import (WIDE_MIN_FEATURES, WideLinear, auto_cpu_linear, cpu_vendor,  # noqa: E402
                                  onednn_linear_available, select_cpu_linear)
from rlkit.runner import TrainingEnvs  # noqa: E402

KERNELS = ("torch", "onednn")
LAYERS = [(128, 576), (576, 576), (3136, 512), (576, 18)]  # (in, out)
ROWS = [1, 32, 64, 256]
LATE_ENV_STEP = 10**7  # the schedules' end: learning and the final epsilon


def alternate(measure, rounds: int) -> dict[str, list[float]]:
    """``measure()`` under each kernel over ``rounds``, the kernels alternating (the process's
    selection switched before each call)."""
    results: dict[str, list[float]] = {kernel: [] for kernel in KERNELS}
    for round_index in range(rounds):
        for kernel in (KERNELS if round_index % 2 == 0 else tuple(reversed(KERNELS))):
            select_cpu_linear(kernel)
            results[kernel].append(measure())
    return results


def seconds_per_call(call, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - start) / count


def layer_table(rounds: int, seconds_per_block: float) -> list[dict]:
    rows_out = []
    for in_features, out_features in LAYERS:
        layer = WideLinear(in_features, out_features)
        for rows in ROWS:
            x = torch.randn(rows, in_features)
            x_grad = x.clone().requires_grad_(True)

            def forward() -> None:
                with torch.no_grad():
                    layer(x)

            def forward_backward() -> None:
                layer.zero_grad(set_to_none=True)
                layer(x_grad).sum().backward()

            row = {"in": in_features, "out": out_features, "rows": rows}
            for label, call in (("forward", forward), ("forward_backward", forward_backward)):
                for kernel in KERNELS:  # warm-up, and a count per block of about seconds_per_block
                    select_cpu_linear(kernel)
                    call()
                count = max(5, int(seconds_per_block / max(seconds_per_call(call, 5), 1e-7)))
                times = alternate(lambda: seconds_per_call(call, count), rounds)
                row[label] = {kernel: statistics.median(times[kernel]) for kernel in KERNELS}
            rows_out.append(row)
            print(f"{in_features}->{out_features} rows {rows}: " + ", ".join(
                f"{label} torch {row[label]['torch'] * 1e6:.1f} us, onednn {row[label]['onednn'] * 1e6:.1f} us"
                for label in ("forward", "forward_backward")), flush=True)
    return rows_out


def train_step_rates(name: str, rounds: int, env_steps_per_block: int) -> dict:
    overrides = ["schedule.total_env_steps=100000000", "schedule.warmup_env_steps=1000",
                 "schedule.epsilon_decay_env_steps=1000"]
    run, vector_env, agent, obs, _ = dqn_with_replay(CASES[name]["matched"] + overrides)
    envs = TrainingEnvs(vector_env, EpisodeTracker(vector_env.num_envs), run.schedule.total_env_steps,
                        env_step=run.schedule.warmup_env_steps)
    agent.obs = obs
    wide = sum(isinstance(m, WideLinear) for m in agent.learner.online.modules())

    def block() -> float:
        first, start = envs.env_step, time.perf_counter()
        while envs.env_step - first < env_steps_per_block:
            agent.train_step(envs)
        return (envs.env_step - first) / (time.perf_counter() - start)

    for kernel in KERNELS:  # first-call costs (oneDNN's primitives, the allocator) outside the timing
        select_cpu_linear(kernel)
        block()
    rates = alternate(block, rounds)
    vector_env.close()
    ratios = [ours / theirs for ours, theirs in zip(rates["onednn"], rates["torch"])]
    result = {"wide_layers_in_q_network": wide, "env_steps_per_block": env_steps_per_block, "rounds": rounds,
              "sps": rates, "median_sps": {k: statistics.median(v) for k, v in rates.items()},
              "paired_ratios": ratios, "median_paired_ratio": statistics.median(ratios)}
    print(f"{name}: torch {result['median_sps']['torch']:.1f}, onednn {result['median_sps']['onednn']:.1f} "
          f"env steps/s, paired ratio {result['median_paired_ratio']:.3f}", flush=True)
    return result


def run_rates(name: str, repetitions: int) -> dict:
    """``python -m rlkit`` at ``name``'s matched settings with each kernel, alternating."""
    case = CASES[name]
    rates: dict[str, list[float]] = {kernel: [] for kernel in KERNELS}
    for repetition in range(repetitions):
        for kernel in (KERNELS if repetition % 2 == 0 else tuple(reversed(KERNELS))):
            result = rlkit_run(case["matched"] + [f"hardware.cpu_linear={kernel}"], case["total"], case["warmup"],
                               case["interval"], case["warmup_keys"])
            rates[kernel].append(result["sps"])
            print(f"{name} run {repetition} {kernel}: {result['sps']:.1f} env steps/s", flush=True)
    ratios = [ours / theirs for ours, theirs in zip(rates["onednn"], rates["torch"])]
    return {"repetitions": repetitions, "sps": rates, "median_sps": {k: statistics.median(v) for k, v in rates.items()},
            "paired_ratios": ratios, "median_paired_ratio": statistics.median(ratios)}


def markdown(results: dict) -> str:
    lines = ["# The Q torsos' linear layers: torch's kernel against oneDNN's (make bench-linear)", "",
             f"{results['date']}, CPU {results['cpu']}, torch {results['torch']}, {results['torch_threads']} torch "
             f"threads; medians over {results['rounds']} alternating rounds (benchmarks/linear_kernels.py). rlkit "
             f"builds a layer as WideLinear when both widths are >= {WIDE_MIN_FEATURES}; hardware.cpu_linear=auto "
             f"selects {results['auto'][0]} for it on this CPU ({results['auto'][1]}).", "",
             "## Layers", "",
             "| layer | rows | forward, torch | forward, oneDNN | forward+backward, torch | forward+backward, oneDNN |",
             "|---|---|---|---|---|---|"]
    for row in results["layers"]:
        fwd, both = row["forward"], row["forward_backward"]
        lines.append(f"| {row['in']}->{row['out']} | {row['rows']} | {fwd['torch'] * 1e6:,.1f} us | "
                     f"{fwd['onednn'] * 1e6:,.1f} us ({fwd['torch'] / fwd['onednn']:.2f}x) | "
                     f"{both['torch'] * 1e6:,.1f} us | {both['onednn'] * 1e6:,.1f} us "
                     f"({both['torch'] / both['onednn']:.2f}x) |")
    lines += ["", "(Nx: torch's time over oneDNN's; above 1, oneDNN is faster.)", "",
              "## The DQN train step at bench-peers' matched settings", "",
              "| case | wide layers in the Q network | torch (env steps/s) | oneDNN (env steps/s) | paired ratio |",
              "|---|---|---|---|---|"]
    for name, result in results["train_step"].items():
        lines.append(f"| {name} | {result['wide_layers_in_q_network']} | {result['median_sps']['torch']:,.1f} | "
                     f"{result['median_sps']['onednn']:,.1f} | {result['median_paired_ratio']:.2f} |")
    if results.get("runs"):
        lines += ["", "## Runs (`python -m rlkit` at the same settings, the rate after the warm-up)", "",
                  "| case | torch (env steps/s) | oneDNN (env steps/s) | paired ratios | median |", "|---|---|---|---|---|"]
        for name, result in results["runs"].items():
            pairs = ", ".join(f"{ratio:.2f}" for ratio in result["paired_ratios"])
            lines.append(f"| {name} | {result['median_sps']['torch']:,.1f} | {result['median_sps']['onednn']:,.1f} | "
                         f"{pairs} | {result['median_paired_ratio']:.2f} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--cases", nargs="*", default=list(DQN_CASES), choices=DQN_CASES)
    parser.add_argument("--block-env-steps", type=int, default=800, help="train-step env steps per block (RAM;"
                        " pixels a quarter of it)")
    parser.add_argument("--layer-block-s", type=float, default=0.1, help="seconds per layer timing block")
    parser.add_argument("--runs", type=int, default=4, help="python -m rlkit runs per kernel and case (0: none)")
    args = parser.parse_args()
    if not onednn_linear_available():
        sys.exit("oneDNN's inner product is unavailable here: nothing to compare")
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu_description(), "auto": auto_cpu_linear(),
               "torch": torch.__version__, "rounds": args.rounds}
    results["train_step"] = {name: train_step_rates(name, args.rounds, args.block_env_steps // (
        4 if name == "dqn_boxing_pixels" else 1)) for name in args.cases}
    results["torch_threads"] = torch.get_num_threads()  # as build_run set it (auto: the cores available)
    results["layers"] = layer_table(args.rounds, args.layer_block_s)
    results["runs"] = {name: run_rates(name, args.runs) for name in args.cases} if args.runs else {}
    vendor = {"GenuineIntel": "intel", "AuthenticAMD": "amd"}.get(cpu_vendor() or "", "other")
    write_results(f"linear_kernels_{vendor}", results, markdown(results))


if __name__ == "__main__":
    main()
