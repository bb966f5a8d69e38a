import numpy as np
import pytest
import torch

from rlkit.algos.common import MetricAccumulator


def test_metrics_are_means_and_grad_norm_statistics_over_the_interval():
    rng = np.random.default_rng(0)
    losses, norms = rng.normal(size=150).astype(np.float32), rng.uniform(0.1, 5.0, size=150).astype(np.float32)
    accumulator = MetricAccumulator()
    for loss, norm in zip(losses, norms):  # past the buffer's first capacity (64) twice
        accumulator.add({"loss": torch.tensor(loss)}, torch.tensor(norm))
    assert accumulator.recent_grad_norms() == pytest.approx(norms[-50:].tolist())
    assert accumulator.recent_grad_norms(3) == pytest.approx(norms[-3:].tolist())
    out = accumulator.pop()
    assert out["loss"] == pytest.approx(losses.mean(), abs=1e-5)
    assert out["grad_norm"] == pytest.approx(norms.mean(), rel=1e-6)
    assert out["grad_norm_max"] == norms.max()
    assert out["grad_norm_std"] == pytest.approx(norms.std(ddof=1), rel=1e-5)
    # the next interval starts empty and reuses the buffer
    assert accumulator.pop() == {} and accumulator.recent_grad_norms() == []
    accumulator.add({"loss": torch.tensor(2.0)}, torch.tensor(3.0))
    assert accumulator.pop() == {"loss": 2.0, "grad_norm": 3.0, "grad_norm_max": 3.0, "grad_norm_std": 0.0}


def test_adding_keeps_no_new_tensor_alive():
    """An update leaves nothing allocated behind (the sums and the norm buffer are written in place):
    the tensors it kept would pin the heap between the update's large temporaries."""
    accumulator = MetricAccumulator()
    accumulator.add({"loss": torch.tensor(1.0), "q": torch.tensor(2.0)}, torch.tensor(1.0))
    kept = {key: total.data_ptr() for key, total in accumulator._sums.items()}
    buffer = accumulator._grad_norms.data_ptr()
    for step in range(2, 60):
        loss = torch.tensor(float(step))
        accumulator.add({"loss": loss, "q": loss * 2}, loss.sqrt())
    assert {key: total.data_ptr() for key, total in accumulator._sums.items()} == kept
    assert accumulator._grad_norms.data_ptr() == buffer
    assert accumulator._sums["loss"].item() == sum(range(1, 60))


def test_replay_frames_go_to_the_gpu_under_auto_only_where_they_fit_in_half_its_free_memory(monkeypatch, capsys):
    from rlkit.algos.common import replay_frames_device
    from rlkit.config import ConfigValueError

    cpu, cuda, gib = torch.device("cpu"), torch.device("cuda"), 2**30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10 * gib, 16 * gib))
    assert replay_frames_device("auto", cpu, 4 * gib, image_frames=True) is None  # a CPU run: nothing to place
    assert replay_frames_device("cpu", cuda, 1 * gib, image_frames=True) is None
    assert replay_frames_device("auto", cuda, 1 * gib, image_frames=False) is None  # RAM, state vectors
    assert capsys.readouterr().out == ""
    assert replay_frames_device("auto", cuda, 5 * gib, image_frames=True) == cuda  # half of the 10 GiB free
    assert "on the GPU (hardware.replay_device=auto: 5.00 GiB of frames, 10.00 GiB free" in capsys.readouterr().out
    assert replay_frames_device("auto", cuda, 5 * gib + 1, image_frames=True) is None
    assert "in host memory (hardware.replay_device=auto" in capsys.readouterr().out
    assert replay_frames_device("cuda", cuda, 8 * gib, image_frames=False) == cuda  # asked: up to 80% of the free
    with pytest.raises(ConfigValueError, match="hardware.replay_device='cuda' is not allowed: cpu or auto"):
        replay_frames_device("cuda", cuda, 8 * gib + 1, image_frames=True)
    with pytest.raises(ConfigValueError, match="cpu or auto for a run on cpu"):
        replay_frames_device("cuda", cpu, 1, image_frames=True)


def test_the_replay_of_a_cpu_run_under_auto_keeps_its_frames_in_numpy():
    from rlkit.algos.common import replay_for
    from rlkit.envs.base import EnvSpec

    spec = EnvSpec(env_id="Fake", obs_shape=(4, 84, 84), obs_dtype=np.uint8, n_actions=6, frame_stack=4)
    replay = replay_for(1000, 4, spec, gamma=0.99, n_step=1, frames_device="auto")
    assert isinstance(replay.frames, np.ndarray) and replay.frames_device is None
    assert replay.batch_device is None  # batches as numpy arrays, the learner's own


def test_a_gpu_run_with_its_frames_on_the_host_gets_batches_sent_to_the_gpu_whole():
    from rlkit.algos.common import replay_for
    from rlkit.envs.base import EnvSpec

    spec = EnvSpec(env_id="Fake", obs_shape=(4, 84, 84), obs_dtype=np.uint8, n_actions=6, frame_stack=4)
    replay = replay_for(1000, 4, spec, gamma=0.99, n_step=1, frames_device="cpu", device=torch.device("cuda"))
    assert isinstance(replay.frames, np.ndarray) and replay.batch_device == torch.device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_auto_puts_pixel_frames_on_the_gpu_and_keeps_ram_frames_on_the_host():
    from rlkit.algos.common import replay_for
    from rlkit.envs.base import EnvSpec

    cuda = torch.device("cuda")
    pixels = EnvSpec(env_id="Fake", obs_shape=(4, 84, 84), obs_dtype=np.uint8, n_actions=6, frame_stack=4)
    ram = EnvSpec(env_id="Fake", obs_shape=(1, 128), obs_dtype=np.uint8, n_actions=6, frame_stack=1)
    on_gpu = replay_for(1000, 4, pixels, gamma=0.99, n_step=1, frames_device="auto", device=cuda)
    assert isinstance(on_gpu.frames, torch.Tensor) and on_gpu.frames.device.type == "cuda"
    on_host = replay_for(1000, 4, ram, gamma=0.99, n_step=1, frames_device="auto", device=cuda)
    assert isinstance(on_host.frames, np.ndarray)
    assert on_gpu.batch_device is None and on_host.batch_device == cuda
