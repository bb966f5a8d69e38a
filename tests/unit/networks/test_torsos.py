import numpy as np
import pytest
import torch

from rlkit.algos.dqn.learner import QNetwork
from rlkit.networks.mlp import MLPConfig
from rlkit.networks.nature_cnn import NatureCNNConfig
from rlkit.networks import NETWORKS, count_parameters


def test_nature_cnn_parameter_count_and_flattened_size():
    torso = NETWORKS.get("nature_cnn")(NatureCNNConfig(), (4, 84, 84), np.uint8)
    assert torso.encoder_dim == 3136
    net = QNetwork(torso, 18)
    assert count_parameters(net) == 1_693_362
    assert net(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).shape == (2, 18)


def test_nature_cnn_computes_flattened_size_from_the_input_shape():
    torso = NETWORKS.get("nature_cnn")(NatureCNNConfig(conv_channels=[16, 32, 8], fc_hidden=64), (2, 64, 64),
                                       np.uint8)
    assert torso.encoder_dim == 8 * 4 * 4
    assert torso(torch.zeros(3, 2, 64, 64, dtype=torch.uint8)).shape == (3, 64)


def test_ram_mlp_is_a_quarter_of_the_nature_cnn():
    mlp = QNetwork(NETWORKS.get("mlp")(MLPConfig(hidden_sizes=[576, 576]), (1, 128), np.uint8), 18)
    cnn = QNetwork(NETWORKS.get("nature_cnn")(NatureCNNConfig(), (4, 84, 84), np.uint8), 18)
    ratio = count_parameters(mlp) / count_parameters(cnn)
    assert count_parameters(mlp) == 417_042
    assert 0.24 < ratio < 0.26


def test_uint8_inputs_are_scaled_inside_the_network():
    torso = NETWORKS.get("mlp")(MLPConfig(hidden_sizes=[8]), (1, 4), np.uint8)
    as_bytes = torso(torch.full((1, 1, 4), 255, dtype=torch.uint8))
    as_unit = torso.body(torso.encoder(torch.ones(1, 1, 4)))
    assert torch.allclose(as_bytes, as_unit)
    float_torso = NETWORKS.get("mlp")(MLPConfig(hidden_sizes=[8]), (1, 4), np.float32)
    assert float_torso.input_scale == 1.0


def test_nature_cnn_scales_frames_in_channels_last_to_the_same_numbers():
    torso = NETWORKS.get("nature_cnn")(NatureCNNConfig(), (4, 84, 84), np.uint8)
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    seen = []  # what the encoder receives, and what its first conv receives
    hooks = [torso.encoder[i].register_forward_pre_hook(lambda module, args: seen.append(args[0])) for i in (0, 1)]
    with torch.no_grad():
        features = torso.encode(frames)
    for hook in hooks:
        hook.remove()
    scaled = frames.float() * (1.0 / 255.0)  # [3, 4, 84, 84] the formula of the network's input
    assert all(x.dtype == torch.float32 and x.is_contiguous(memory_format=torch.channels_last) for x in seen)
    assert seen[0] is seen[1]  # already in the conv's layout: the encoder's ChannelsLast copies nothing
    assert torch.equal(seen[1], scaled)  # bit for bit, not only close
    with torch.no_grad():
        assert torch.equal(features, torso.encoder(scaled))


def test_scaling_leaves_the_callers_observations_as_they_were():
    for dtype, obs_shape, network, config in ((np.uint8, (4, 84, 84), "nature_cnn", NatureCNNConfig()),
                                              (np.float32, (1, 4), "mlp", MLPConfig(hidden_sizes=[8]))):
        torso = NETWORKS.get(network)(config, obs_shape, dtype)
        torso.input_scale = 0.5  # a scaling torso for either input type (one built by hand may scale floats)
        obs = torch.full((2, *obs_shape), 200, dtype=getattr(torch, np.dtype(dtype).name))
        if network == "nature_cnn":
            obs = obs.contiguous(memory_format=torch.channels_last)  # already the encoder's layout
        before = obs.clone()
        with torch.no_grad():
            torso.encode(obs)
        assert torch.equal(obs, before)


def test_bad_channel_lists_are_rejected():
    from rlkit.config import ConfigValueError

    with pytest.raises(ConfigValueError, match="conv_channels"):
        NatureCNNConfig(conv_channels=[32, 64])
    with pytest.raises(ConfigValueError, match="conv_channels"):
        NatureCNNConfig(conv_channels=[32, 0, 64])


def test_nature_cnn_refuses_vector_observations():
    with pytest.raises(ValueError, match="network=mlp"):
        NETWORKS.get("nature_cnn")(NatureCNNConfig(), (1, 128), np.uint8)
