import numpy as np
import pytest
import torch

from rlkit.algos.dqn.learner import DQNLoss, HostQNetwork, QNetwork, acting_q_network
from rlkit.algos.value_based.learner import ValueLearner
from rlkit.buffers import ReplayBatch
from rlkit.networks.mlp import MLPConfig
from rlkit.networks import NETWORKS
from rlkit.schedules import LinearSchedule, constant


def _learner(clip, target_update="soft", period=100, lr=constant(1e-3), compile=False, backup="max",
             temperature=constant(1.0), compile_mode="default"):
    torch.manual_seed(0)
    net = QNetwork(NETWORKS.get("mlp")(MLPConfig(hidden_sizes=[16]), (1, 4), np.float32), 3)
    return ValueLearner(net, DQNLoss(True, backup, "mse", None), lr_schedule=lr, temperature_schedule=temperature,
                        adam_eps=1e-8, grad_clip_norm=clip, target_update=target_update, polyak_tau=0.5,
                        target_update_period_env_steps=period, device=torch.device("cpu"), amp=False, compile=compile,
                        compile_mode=compile_mode)


def _batch(reward=100.0):
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(32, 1, 4)).astype(np.float32)
    return ReplayBatch(obs, rng.integers(3, size=32).astype(np.int16), np.full(32, reward, np.float32),
                       np.full(32, 0.99, np.float32), obs, None, None)


def test_grad_norm_is_logged_before_clipping():
    learner = _learner(clip=0.01)
    learner.update(_batch(), 0)
    metrics = learner.pop_metrics()
    assert metrics["grad_norm"] > 1.0  # a reward of 100 gives a large gradient; the clip is 0.01
    applied = torch.sqrt(sum((p.grad**2).sum() for p in learner.online.parameters()))
    assert float(applied) == pytest.approx(0.01, rel=1e-3)  # what the optimizer stepped on was clipped


def test_hard_target_sync_follows_env_steps_and_soft_moves_halfway():
    hard = _learner(clip=None, target_update="hard", period=100)
    hard.update(_batch(), 50)
    assert not all(torch.equal(a, b) for a, b in zip(hard.online.parameters(), hard.target.parameters()))
    hard.update(_batch(), 100)
    assert all(torch.equal(a, b) for a, b in zip(hard.online.parameters(), hard.target.parameters()))
    assert hard.next_target_sync_env_step == 200
    soft = _learner(clip=None)
    target_before = [p.clone() for p in soft.target.parameters()]
    soft.update(_batch(), 0)
    for online, target, old in zip(soft.online.parameters(), soft.target.parameters(), target_before):
        assert torch.allclose(target, 0.5 * old + 0.5 * online.detach(), atol=1e-6)


def test_a_compiled_loss_makes_the_same_updates_and_its_compile_time_is_logged_once(monkeypatch):
    import torch._dynamo

    from rlkit.algos.value_based import learner as learner_module

    # aot_eager traces the graphs and their backward as inductor does, without its C++ build (tens of
    # seconds); make bench-update-variants measures inductor itself
    monkeypatch.setitem(learner_module.COMPILE_OPTIONS, "backend", "aot_eager")
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    eager, compiled = _learner(clip=10.0), _learner(clip=10.0, compile=True)
    for step in range(3):
        eager.update(_batch(reward=float(step)), step)
        compiled.update(_batch(reward=float(step)), step)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # the loss did go through dynamo
    for a, b in zip(eager.online.parameters(), compiled.online.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    eager_row, compiled_row = eager.pop_metrics(), compiled.pop_metrics()
    assert "compile_s" not in eager_row and compiled_row["compile_s"] > 0
    assert compiled_row["loss"] == pytest.approx(eager_row["loss"], rel=1e-5)
    compiled.update(_batch(), 3)
    assert "compile_s" not in compiled.pop_metrics()  # once per process


def test_reduce_overhead_compiles_in_that_mode_and_starts_a_cuda_graph_step_per_update(monkeypatch):
    # CUDA graphs record on a GPU only (tests/smoke/test_cuda.py runs them); here: what reaches torch
    compiled_with, step_marks = [], []
    real_compile = torch.compile

    def spy(function, **options):
        compiled_with.append(options)
        return real_compile(function, backend="eager", dynamic=False)
    monkeypatch.setattr(torch, "compile", spy)
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: step_marks.append(1))
    default = _learner(clip=10.0, compile=True)
    graphs = _learner(clip=10.0, compile=True, compile_mode="reduce-overhead")
    assert compiled_with == [{"dynamic": False}, {"dynamic": False, "mode": "reduce-overhead"}]
    for step in range(3):
        default.update(_batch(reward=float(step)), step)
        assert len(step_marks) == step
        graphs.update(_batch(reward=float(step)), step)
        assert len(step_marks) == step + 1
    for a, b in zip(default.online.parameters(), graphs.online.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_compiled_soft_backup_keeps_one_graph_while_the_temperature_decays(monkeypatch):
    import torch._dynamo

    from rlkit.algos.value_based import learner as learner_module

    # a temperature passed as a Python float is a constant of the graph under dynamic=False: every new
    # value recompiled, and past torch's recompile limit the loss ran eager for the rest of the run
    monkeypatch.setitem(learner_module.COMPILE_OPTIONS, "backend", "eager")
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    decaying = LinearSchedule(1.0, 0.01, 20)
    eager = _learner(clip=10.0, backup="soft", temperature=decaying)
    compiled = _learner(clip=10.0, backup="soft", temperature=decaying, compile=True)
    eager_losses, compiled_losses = [], []
    for step in range(20):
        for learner, losses in ((eager, eager_losses), (compiled, compiled_losses)):
            learner.update(_batch(reward=float(step)), step)
            losses.append(learner.pop_metrics()["loss"])
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
    assert compiled.pop_metrics() == {} and compiled.last_temperature == pytest.approx(decaying(19))
    np.testing.assert_allclose(compiled_losses, eager_losses, rtol=1e-5)
    assert len(set(eager_losses)) == 20  # the temperature (and reward) changed every update


@pytest.mark.parametrize("double_q", [True, False])
def test_the_loss_runs_its_no_grad_passes_before_the_graph_it_keeps(double_q):
    # peak memory: the next-state passes' activations are freed before the online pass saves its own
    torch.manual_seed(0)
    online = QNetwork(NETWORKS.get("mlp")(MLPConfig(hidden_sizes=[16]), (1, 4), np.float32), 3)
    target = QNetwork(NETWORKS.get("mlp")(MLPConfig(hidden_sizes=[16]), (1, 4), np.float32), 3)
    calls = []
    for name, net in (("online", online), ("target", target)):
        net.register_forward_hook(lambda module, args, out, name=name: calls.append((name, torch.is_grad_enabled())))
    batch = _learner(clip=None).to_torch(_batch())
    loss, _ = DQNLoss(double_q, "max", "huber", None)(online, target, batch, 1.0)
    no_grad = [("target", False)] + ([("online", False)] if double_q else [])
    assert calls == no_grad + [("online", True)]
    assert loss.requires_grad


def test_lr_decays_linearly_with_env_steps():
    learner = _learner(clip=None, lr=LinearSchedule(1e-3, 1e-4, 1000))
    learner.update(_batch(), 500)
    assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(5.5e-4)
    assert learner.pop_metrics()["lr"] == pytest.approx(5.5e-4)


def test_heads_stay_float32_under_autocast():
    net = QNetwork(NETWORKS.get("mlp")(MLPConfig(hidden_sizes=[16]), (1, 4), np.float32), 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q = net(torch.randn(2, 1, 4))
        features = net.torso(torch.randn(2, 1, 4))
    assert features.dtype == torch.bfloat16  # the torso ran in low precision
    assert q.dtype == torch.float32  # the head did not


@pytest.mark.parametrize("obs_dtype, hidden", [(np.uint8, [32, 24]), (np.float32, [16])])
def test_host_q_network_follows_the_parameters_and_agrees_with_forward(obs_dtype, hidden):
    """The numpy forward reads the parameters' memory (uint8 obs scaled by 1/255 as the torso does):
    it agrees with forward to float32 rounding, also after an optimizer step and a load_state_dict."""
    def build():
        return QNetwork(NETWORKS.get("mlp")(MLPConfig(hidden_sizes=hidden), (128,), obs_dtype), 18)

    torch.manual_seed(0)
    net = build()
    host = acting_q_network(net)
    assert isinstance(host, HostQNetwork)
    rng = np.random.default_rng(0)
    obs = torch.from_numpy(rng.integers(256, size=(5, 128)).astype(obs_dtype))  # RAM bytes, or floats

    def agree() -> np.ndarray:
        with torch.inference_mode():
            q = host(obs)
            assert q.dtype == torch.float32 and q.shape == (5, 18)
            np.testing.assert_allclose(q.numpy(), net(obs).numpy(), rtol=1e-5, atol=1e-5)
        return q.numpy().copy()

    first = agree()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1, fused=True)
    net(obs).sum().backward()
    optimizer.step()
    stepped = agree()
    assert not np.allclose(first, stepped)
    net.load_state_dict(build().state_dict())
    assert not np.allclose(stepped, agree())  # the loaded weights, not the stepped ones


def test_the_actor_acts_through_the_numpy_forward_with_the_same_actions(monkeypatch):
    from rlkit.algos.value_based.actor import ValueActor, epsilon_greedy

    torch.manual_seed(0)
    net = QNetwork(NETWORKS.get("mlp")(MLPConfig(hidden_sizes=[32]), (128,), np.uint8), 18)
    host = acting_q_network(net)
    obs = np.random.default_rng(0).integers(256, size=(64, 128)).astype(np.uint8)
    actor = ValueActor(host, host, 18, exploration="epsilon_greedy", epsilon_schedule=constant(0.25),
                       temperature_schedule=constant(1.0), device=torch.device("cpu"), amp=False, seed=3)
    host_calls = []
    real_call = HostQNetwork.__call__
    monkeypatch.setattr(HostQNetwork, "__call__", lambda self, o: host_calls.append(o) or real_call(self, o))
    actions = actor.act(obs, 0)
    eval_actions = actor.act_eval(obs, 0.1, np.random.default_rng(5))
    monkeypatch.undo()
    assert not host_calls  # numpy in and out: no tensors around the forward
    # the same draws and the same Q values as acting through the tensor forward
    via_torch = epsilon_greedy(lambda o: host(torch.from_numpy(o)), obs, 18, 0.25, np.random.default_rng(3))
    assert actions.tolist() == via_torch.tolist()
    assert eval_actions.tolist() == epsilon_greedy(lambda o: host(torch.from_numpy(o)), obs, 18, 0.1,
                                                   np.random.default_rng(5)).tolist()


def test_acting_keeps_the_network_where_no_host_forward_applies():
    cnn = QNetwork(NETWORKS.get("nature_cnn")(NETWORKS.entry("nature_cnn").schema(), (4, 84, 84), np.uint8), 6)
    assert acting_q_network(cnn) is cnn
    tanh_torso = NETWORKS.get("mlp")(MLPConfig(hidden_sizes=[8]), (4,), np.float32)
    tanh_torso.encoder[2] = torch.nn.Tanh()
    tanh_net = QNetwork(tanh_torso, 2)
    assert acting_q_network(tanh_net) is tanh_net
