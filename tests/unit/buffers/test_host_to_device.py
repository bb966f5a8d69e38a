import numpy as np
import pytest
import torch

from rlkit.buffers.host_to_device import ALIGN_BYTES, HostToDevice

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"))]


def _group(rng: np.random.Generator, size: int) -> tuple[np.ndarray, ...]:
    """Arrays of every dtype the replay sends, with sizes that are not multiples of the alignment."""
    return (rng.integers(-5, 5, size=(size, 1)), rng.integers(0, 600, size=(size, 4)),
            rng.random((size, 4)) < 0.5, rng.integers(0, 6, size=size).astype(np.int16),
            rng.normal(size=size).astype(np.float32), rng.integers(0, 255, size=(3, size, 5), dtype=np.uint8),
            np.zeros(0, dtype=np.float64), np.float32(0.5))


@pytest.mark.parametrize("device", DEVICES)
def test_a_group_arrives_equal_in_dtype_shape_and_values(device):
    to_device = HostToDevice(device)
    arrays = _group(np.random.default_rng(0), 7)
    sent = to_device.put(*arrays)
    assert len(sent) == len(arrays)
    for array, tensor in zip(arrays, sent):
        assert tensor.device.type == device and tuple(tensor.shape) == np.shape(array)
        assert tensor.dtype == torch.from_numpy(np.asarray(array)).dtype
        np.testing.assert_array_equal(tensor.cpu().numpy(), array)
    # one copy: every tensor is a view of one packed allocation, each array at an aligned offset
    base = sent[0].untyped_storage().data_ptr()
    assert all(t.untyped_storage().data_ptr() == base for t in sent)
    assert all((t.data_ptr() - base) % ALIGN_BYTES == 0 for t in sent)


@pytest.mark.parametrize("device", DEVICES)
def test_reused_buffers_never_change_what_an_earlier_put_returned(device):
    """More puts than buffers, growing sizes (a buffer reallocated), and on a GPU queued behind a
    long kernel, so the host refills each pinned buffer while its copy may still be pending:
    a put must wait for that copy, or an earlier group arrives with a later group's bytes."""
    to_device = HostToDevice(device, num_buffers=2)
    rng = np.random.default_rng(1)
    groups = [_group(rng, size) for size in (3, 3, 50, 4, 200, 200, 9, 1)]
    if device == "cuda":
        torch.cuda._sleep(200_000_000)  # keeps the stream busy while the host runs ahead
    sent = [to_device.put(*group) for group in groups]
    for group, tensors in zip(groups, sent):
        for array, tensor in zip(group, tensors):
            np.testing.assert_array_equal(tensor.cpu().numpy(), array)


@pytest.mark.parametrize("device", DEVICES)
def test_a_staged_group_is_written_in_place_and_sent_once(device):
    """stage: the caller fills views of the host buffer itself (a gather lands there directly)."""
    to_device = HostToDevice(device, num_buffers=2)
    staged = to_device.stage(((4, 3), np.uint8), ((5,), np.float32), ((), np.int64))
    frames, values, count = staged.host
    assert [v.shape for v in staged.host] == [(4, 3), (5,), ()]
    np.take(np.arange(60, dtype=np.uint8).reshape(20, 3), [3, 0, 19, 7], axis=0, out=frames, mode="clip")
    values[...] = np.linspace(0, 1, 5, dtype=np.float32)
    count[...] = 7
    sent_frames, sent_values, sent_count = staged.send()
    np.testing.assert_array_equal(sent_frames.cpu().numpy(), np.arange(60).reshape(20, 3)[[3, 0, 19, 7]])
    np.testing.assert_array_equal(sent_values.cpu().numpy(), np.linspace(0, 1, 5, dtype=np.float32))
    assert sent_count.dtype == torch.int64 and int(sent_count) == 7
    with pytest.raises(RuntimeError, match="sent already"):
        staged.send()
    late = to_device.stage(((3,), np.uint8))
    to_device.stage(((3,), np.uint8)).send()
    to_device.stage(((3,), np.uint8)).send()  # the third group reuses the late one's buffer
    with pytest.raises(RuntimeError, match="reused its buffer"):
        late.send()
