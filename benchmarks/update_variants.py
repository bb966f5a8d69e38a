"""make bench-update-variants: what a Nature-CNN DQN update costs on this machine with each candidate
speed-up, timed apart on the same random batches (issue 15's list; the ones that help are kept):

- baseline: rlkit's update (Double DQN: online(obs) with gradients, online(next_obs) and target(next_obs)
  without);
- batched: online(obs) and online(next_obs) in one forward of 2B (the next half detached);
- channels_last: the network and its input batches in channels-last memory format;
- compile: what ``hardware.compile=true`` does, on top of channels_last (rlkit's default since it was
  kept): torch.compile of the loss forward (online and target passes, the loss), backward and Adam
  eager; its compile time reported apart.

Writes benchmarks/results/update_variants.{json,md}. Run on idle cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rlkit.algos.dqn.learner import QNetwork  # noqa: E402
from rlkit.networks.nature_cnn import NatureCNNConfig, build_nature_cnn  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--variants", nargs="+", default=["baseline", "batched", "channels_last", "compile"])
    args = parser.parse_args()
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
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "torch_threads": torch.get_num_threads(), "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "update_variants.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Nature-CNN Double DQN update, candidate speed-ups (make bench-update-variants)", "",
             f"torch threads {torch.get_num_threads()}; the faster of two alternating rounds per cell.", "",
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
    (RESULTS / "update_variants.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
