"""Value-based learning: the learner owns the online and target nets, Adam, AMP and target updates.

The loss is a swappable piece (``DQNLoss``, ``IQNLoss``): it runs the forward passes for one
batch and calls the pure math of its algorithm. The learner never sees the env.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any
from typing import Protocol

import torch
from torch import nn

from rlkit.algos.common import CompileClock, MetricAccumulator, NonFiniteError, tensor_statistics
from rlkit.optim import adam_step, clear_grads, clip_grad_norm, make_adam
from rlkit.schedules import LinearSchedule


@dataclass
class TorchBatch:
    obs: torch.Tensor  # [B, *obs_shape] uint8 or float32
    actions: torch.Tensor  # [B] int64
    rewards: torch.Tensor  # [B] float32 n-step returns
    discounts: torch.Tensor  # [B] float32
    next_obs: torch.Tensor  # [B, *obs_shape]


# torch.compile's settings for hardware.compile: one static batch shape, so one graph (module level so
# a test can choose a cheaper backend than inductor's C++ code generation)
COMPILE_OPTIONS: dict[str, Any] = {"dynamic": False}


class LossPiece(Protocol):
    def __call__(self, online: nn.Module, target: nn.Module, batch: TorchBatch, temperature: torch.Tensor
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]: ...


class ValueLearner:
    """Owns the online/target nets and Adam; applies one gradient update per ``update`` call."""

    def __init__(self, online: nn.Module, loss: LossPiece, *, lr_schedule: LinearSchedule,
                 temperature_schedule: LinearSchedule, adam_eps: float, grad_clip_norm: float | None,
                 target_update: str, polyak_tau: float, target_update_period_env_steps: int,
                 device: torch.device, amp: bool, compile: bool = False, compile_mode: str = "default") -> None:
        self.online = online.to(device)
        self.target = copy.deepcopy(self.online).requires_grad_(False)
        self.loss = loss
        self.lr_schedule = lr_schedule
        self.temperature_schedule = temperature_schedule
        self.optimizer = make_adam(self.online.parameters(), lr=lr_schedule(0), eps=adam_eps)
        self.grad_clip_norm = grad_clip_norm
        self.target_update = target_update
        self.polyak_tau = polyak_tau
        self.target_update_period_env_steps = target_update_period_env_steps
        self.next_target_sync_env_step = target_update_period_env_steps
        self.device = device
        self.amp = amp
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp)
        self.num_updates = 0
        self.metrics = MetricAccumulator()
        self._first_nonfinite_env_step = torch.tensor(-1, device=device)  # CUDA: set by the first bad update
        self.last_lr, self.last_temperature = lr_schedule(0), temperature_schedule(0)
        # the temperature reaches the loss as a 0-d tensor filled in place: a Python float would be a
        # constant of the compiled graph (dynamic=False), so each new value of a decaying schedule would
        # recompile until torch's recompile limit sent the loss back to eager for the rest of the run
        self._temperature = torch.tensor(self.last_temperature, dtype=torch.float32, device=device)  # []
        self._online_params = [p for p in self.online.parameters()]
        self._target_params = [p for p in self.target.parameters()]
        # hardware.compile: the loss forward (online and target passes, the loss math) as one compiled
        # graph and its backward; the first update of each process compiles, timed as compile_s.
        # compile_mode reduce-overhead replays them as CUDA graphs: their outputs (the loss, the metrics,
        # the gradients) live in memory the next replay overwrites, so each update marks a new step
        # and consumes its own outputs before the next (the metrics are summed in place, the
        # gradients cleared before each backward)
        self.cuda_graphs = compile and compile_mode == "reduce-overhead"
        mode = {"mode": compile_mode} if compile_mode != "default" else {}
        self._loss_forward = (torch.compile(self._call_loss, **COMPILE_OPTIONS, **mode) if compile
                              else self._call_loss)
        self.compile_clock = CompileClock(compile)  # the updates that compiled, logged as compile_s

    def _call_loss(self, online: nn.Module, target: nn.Module, batch: TorchBatch, temperature: torch.Tensor
                   ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.loss(online, target, batch, temperature)

    def to_torch(self, batch) -> TorchBatch:
        """A ReplayBatch to device tensors (frames stay uint8 until the network). Tensors already on
        the device (a replay whose frames live there sends the whole batch) are used as they are;
        host arrays go through pinned memory to a CUDA device, so the copy runs asynchronously."""
        def put(array, dtype=None):
            tensor = array if isinstance(array, torch.Tensor) else torch.from_numpy(array)
            if self.device.type == "cuda" and tensor.device.type == "cpu":
                tensor = tensor.pin_memory()
            tensor = tensor.to(self.device, non_blocking=True)
            return tensor if dtype is None else tensor.to(dtype)
        return TorchBatch(put(batch.obs), put(batch.actions, torch.int64), put(batch.rewards, torch.float32),
                          put(batch.discounts, torch.float32), put(batch.next_obs))

    def update(self, batch, env_step: int) -> None:
        """One gradient step on a sampled batch; env_step drives the lr, temperature and target sync."""
        lr = self.lr_schedule(env_step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        temperature = self.temperature_schedule(env_step)
        self._temperature.fill_(temperature)
        tb = self.to_torch(batch)
        self.compile_clock.start()
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
        if self.amp:
            with torch.autocast(device_type=self.device.type, dtype=torch.float16):
                loss, metrics = self._loss_forward(self.online, self.target, tb, self._temperature)
        else:  # (an autocast context costs even when disabled; acting and updating run it often)
            loss, metrics = self._loss_forward(self.online, self.target, tb, self._temperature)
        clear_grads(self._online_params)  # the optimizer's parameters
        max_norm = self.grad_clip_norm if self.grad_clip_norm is not None else math.inf
        if self.amp:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            grad_norm = clip_grad_norm(self._online_params, max_norm)  # norm before clipping
            self.scaler.step(self.optimizer)  # skipped by the scaler if AMP found inf grads
            self.scaler.update()
        else:
            loss.backward()
            grad_norm = clip_grad_norm(self._online_params, max_norm)  # norm before clipping
            adam_step(self.optimizer)
        self.num_updates += 1
        self._update_target(env_step)
        self.metrics.add(dict(metrics, loss=loss.detach()), grad_norm)
        self.last_lr, self.last_temperature = lr, temperature
        self.compile_clock.stop()  # (compiling is host work: no device sync needed to time it)
        if self.device.type == "cuda":  # no host sync per update: the flag is read at the next log point
            bad = ~torch.isfinite(loss.detach()) if self.amp else ~(torch.isfinite(loss.detach())
                                                                     & torch.isfinite(grad_norm))
            self._first_nonfinite_env_step.masked_fill_(bad & (self._first_nonfinite_env_step < 0), env_step)
        else:
            self.check_finite(loss, grad_norm, env_step, amp_may_skip=self.amp, batch=tb)

    def pop_metrics(self) -> dict[str, float]:
        """Means since the last call (grad norm before clipping), plus the current lr and temperature.
        On CUDA this is where a non-finite update is found (the env step of the first one is kept)."""
        first_bad = int(self._first_nonfinite_env_step)
        if first_bad >= 0:
            raise NonFiniteError("loss or grad_norm", first_bad, {"note": "on CUDA the check runs at log points"})
        out = self.metrics.pop()
        if out:
            out.update(lr=self.last_lr, temperature=self.last_temperature)
        compile_s = self.compile_clock.pop()
        if compile_s is not None:  # the compiling updates' seconds since the last row, inside its sps
            out["compile_s"] = compile_s
        return out

    def check_finite(self, loss: torch.Tensor, grad_norm: torch.Tensor, env_step: int, amp_may_skip: bool,
                     batch: TorchBatch) -> None:
        # One sync per update on the CPU is free; on CUDA the check reads two scalars.
        loss_ok, grad_ok = bool(torch.isfinite(loss)), amp_may_skip or bool(torch.isfinite(grad_norm))
        if not (loss_ok and grad_ok):
            raise NonFiniteError("loss" if not loss_ok else "grad_norm", env_step, {
                "loss": float(loss.detach()), "grad_norm": float(grad_norm),
                "batch": tensor_statistics(obs=batch.obs, rewards=batch.rewards, discounts=batch.discounts,
                                           next_obs=batch.next_obs)})

    def weights_finite(self) -> bool:
        return all(torch.isfinite(p).all() for p in self._online_params)

    def _update_target(self, env_step: int) -> None:
        if self.target_update == "soft":
            with torch.no_grad():
                torch._foreach_lerp_(self._target_params, self._online_params, self.polyak_tau)
        elif env_step >= self.next_target_sync_env_step:
            self.target.load_state_dict(self.online.state_dict())
            while self.next_target_sync_env_step <= env_step:
                self.next_target_sync_env_step += self.target_update_period_env_steps

    def state_dict(self) -> dict:
        return {
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "num_updates": self.num_updates,
            "next_target_sync_env_step": self.next_target_sync_env_step,
        }

    def load_state_dict(self, state: dict) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.num_updates = int(state["num_updates"])
        self.next_target_sync_env_step = int(state["next_target_sync_env_step"])
