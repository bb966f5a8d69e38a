"""The CUDA paths, on a machine with a CUDA GPU (skipped elsewhere; the CPU tests run the same code
on CPU tensors): value-based training with AMP and the replay's frames on the GPU, its checkpoint,
resume, load and rlkit-eval, also with the update compiled into CUDA graphs; PPO and SAC on CUDA.
``make bench-gpu`` measures the variants."""

import math

import numpy as np
import pytest
import torch

import rlkit
from rlkit import checkpoint
from rlkit import evaluate as ev
from rlkit.logging import METRICS_FILE, read_metrics
from tests.conftest import run_in_process

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

QUIET = ["logger.progress_bar=false"]
SHORT_ATARI = ["env.max_episode_frames=400", "hardware.num_envs=4", "hardware.eval_num_envs=2"]


def _train_rows(run_dir):
    return [row for row in read_metrics(run_dir / METRICS_FILE) if "loss" in row]


CUDA_GRAPHS = ["hardware.compile=true", "hardware.compile_mode=reduce-overhead"]


@pytest.mark.parametrize("algo, options", [("dqn", []), ("iqn", []), ("dqn", CUDA_GRAPHS), ("iqn", CUDA_GRAPHS)],
                         ids=["dqn", "iqn", "dqn-cuda-graphs", "iqn-cuda-graphs"])
def test_amp_with_the_replay_on_the_gpu_trains_resumes_loads_and_replays_its_evaluation(algo, options, tmp_path):
    from torch._dynamo.utils import counters

    counters.clear()
    run_dir = tmp_path / "run"
    first = run_in_process([f"algo={algo}", "env=boxing", "schedule=smoke", "hardware=cuda_amp",
                            "hardware.replay_device=cuda", *options, *SHORT_ATARI, *QUIET], run_dir)
    assert first["exit_code"] == 0, first.get("error")
    resumed = run_in_process([f"resume={run_dir}", "schedule.total_env_steps=800", "allow_config_change=true",
                              *QUIET], tmp_path / "unused")
    assert resumed["exit_code"] == 0, resumed.get("error")
    rows = _train_rows(run_dir)
    assert [r["env_step"] for r in rows] == sorted({r["env_step"] for r in rows}) and rows[-1]["env_step"] >= 700
    assert all(math.isfinite(r["loss"]) and math.isfinite(r["grad_norm"]) for r in rows)
    assert rows[-1]["updates"] > rows[0]["updates"] > 0
    assert checkpoint.list_checkpoints(run_dir)[-1][0] == resumed["env_step"] >= 800
    assert counters["inductor"]["cudagraph_skips"] == 0  # (inductor counts a graph it could not record)

    loaded = rlkit.load(run_dir)
    assert {p.device.type for p in loaded.agent.network.parameters()} == {"cuda"}
    envs = loaded.make_envs(num_envs=2)
    actions = loaded.act(envs.reset(seed=0))
    envs.close()
    assert actions.shape == (2,) and np.all((0 <= actions) & (actions < 18))
    record = ev.evaluate_run(run_dir, ev.parse_settings([]), out=lambda line: None)
    assert len(record["episode_returns"]) == 2
    assert record["reproduces_run_evaluation"]["equal"] is True, record["reproduces_run_evaluation"]


@pytest.mark.parametrize("algo,schedule", [("ppo", "ppo_smoke"), ("sac", "sac_smoke")])
def test_policy_gradient_on_cuda_trains_and_loads(algo, schedule, tmp_path):
    run_dir = tmp_path / "run"
    result = run_in_process(["env=gym", "env.id=Pendulum-v1", "network.hidden_sizes=[32,32]", f"algo={algo}",
                             f"schedule={schedule}", "hardware=cuda", *QUIET], run_dir)
    assert result["exit_code"] == 0, result.get("error")
    rows = [row for row in read_metrics(run_dir / METRICS_FILE) if "grad_norm" in row]
    assert rows and all(math.isfinite(r["grad_norm"]) for r in rows)
    loaded = rlkit.load(run_dir)
    assert {p.device.type for p in loaded.agent.network.parameters()} == {"cuda"}
    envs = loaded.make_envs(num_envs=2)
    actions = loaded.act(envs.reset(seed=0))
    envs.close()
    assert actions.shape == (2, 1) and np.all(np.abs(actions) <= 2.0)


@pytest.mark.parametrize("amp", [False, True])
def test_cuda_graphs_replay_the_compiled_updates_numbers(amp):
    import torch._dynamo

    from rlkit.algos.dqn.learner import DQNLoss, QNetwork
    from rlkit.algos.value_based.learner import ValueLearner
    from rlkit.buffers import ReplayBatch
    from rlkit.networks import NETWORKS
    from rlkit.networks.nature_cnn import NatureCNNConfig
    from rlkit.schedules import LinearSchedule, constant

    def learner(compile_mode):
        torch.manual_seed(0)
        online = QNetwork(NETWORKS.get("nature_cnn")(NatureCNNConfig(), (4, 84, 84), np.uint8), 18)
        return ValueLearner(online, DQNLoss(True, "max", "huber", None), lr_schedule=LinearSchedule(1e-3, 1e-4, 10),
                            temperature_schedule=constant(1.0), adam_eps=1e-8, grad_clip_norm=10.0,
                            target_update="soft", polyak_tau=0.5, target_update_period_env_steps=1,
                            device=torch.device("cuda"), amp=amp, compile=True, compile_mode=compile_mode)

    rng = np.random.default_rng(0)
    batches = [ReplayBatch(rng.integers(256, size=(64, 4, 84, 84), dtype=np.uint8), rng.integers(18, size=64),
                           rng.normal(size=64).astype(np.float32), np.full(64, 0.99, np.float32),
                           rng.integers(256, size=(64, 4, 84, 84), dtype=np.uint8), None, None) for _ in range(6)]
    torch._dynamo.reset()
    default, graphs = learner("default"), learner("reduce-overhead")
    # float16 convolutions round differently from run to run (cuDNN picks its kernels again when a
    # graph is recorded): with AMP the updates agree to that rounding, seen in each update's loss and
    # grad norm (each loss after the first is computed on the parameters the updates before it made).
    # Parameter by parameter they do not: Adam's first steps move a parameter by about the lr whatever
    # its gradient's size, so one whose tiny gradient rounds to the other sign lands 2 lr away.
    rel = 3e-2 if amp else 1e-4  # (AMP: float16's rounding, with a margin; benchmarks/results/gpu_tests.txt)
    for step, batch in enumerate(batches):
        default.update(batch, step)
        graphs.update(batch, step)
        default_row, graphs_row = default.pop_metrics(), graphs.pop_metrics()
        assert graphs_row["loss"] == pytest.approx(default_row["loss"], rel=rel)
        assert graphs_row["grad_norm"] == pytest.approx(default_row["grad_norm"], rel=rel)
    if not amp:
        for a, b in zip(default.online.parameters(), graphs.online.parameters()):
            torch.testing.assert_close(a, b)
    # the forward did replay as a CUDA graph: its outputs live in memory the next replay overwrites
    with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
        first, _ = graphs._loss_forward(graphs.online, graphs.target, graphs.to_torch(batches[0]), graphs._temperature)
        torch.compiler.cudagraph_mark_step_begin()
        graphs._loss_forward(graphs.online, graphs.target, graphs.to_torch(batches[1]), graphs._temperature)
    with pytest.raises(RuntimeError, match="overwritten"):
        float(first)
