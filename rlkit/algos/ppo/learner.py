"""PPO's learner: owns the actor-critic's Adam; turns one rollout into epochs x minibatches of updates.

Per rollout (``update``): set the lr (linear anneal to 0 over the run, per rollout as CleanRL),
compute GAE over the [T, E] rollout, drop the NEXT_STEP reset rows, then for each epoch shuffle
the transitions into ``num_minibatches`` minibatches and take one clipped gradient step on each.
With ``recompute_advantages`` every epoch after the first recomputes the values of the rollout's
observations with the current critic and GAE from them (Andrychowicz et al. 2021, "What Matters
in On-Policy RL", section 3.5; Tianshou's recompute_adv); the old values used for value clipping
stay the rollout's.
With ``target_kl`` set, the epochs stop after the first epoch whose last minibatch's approx KL
passes it (CleanRL's rule). The math lives in ``losses.py``; the learner never sees the env.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import torch

from rlkit.algos.common import CompileClock, NonFiniteError, tensor_statistics
from rlkit.algos.ppo import losses
from rlkit.buffers.rollout import RolloutBatch
from rlkit.networks.actor_critic import GaussianActorCritic
from rlkit.optim import adam_step, clear_grads, clip_grad_norm, make_adam
from rlkit.schedules import LinearSchedule

# torch.compile's settings for hardware.compile: the minibatch size varies by one within a rollout and
# with the rollout's reset rows, so the graphs take any size (two of them, for the first minibatch's
# storage offset 0 and the others', both made in the first epoch; a graph per size would recompile
# through the run). Module level so a test can choose a cheaper backend than inductor's C++ code.
COMPILE_OPTIONS: dict[str, Any] = {"dynamic": True}

EPOCH_METRICS = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm")


class PPOLearner:
    def __init__(self, network: GaussianActorCritic, *, lr_schedule: LinearSchedule, num_epochs: int,
                 num_minibatches: int, gamma: float, gae_lambda: float, clip_coef: float, clip_value_loss: bool,
                 value_coef: float, entropy_coef: float, grad_clip_norm: float | None, target_kl: float | None,
                 normalize_advantages: bool, adam_eps: float, device: torch.device, seed: int,
                 recompute_advantages: bool = False, compile: bool = False) -> None:
        self.network = network.to(device)
        self.params = list(self.network.parameters())
        self.lr_schedule = lr_schedule  # lr against the env step (OnPolicySchedule.lr_schedule)
        self.optimizer = make_adam(self.params, lr=lr_schedule(0), eps=adam_eps)
        self.num_epochs, self.num_minibatches = num_epochs, num_minibatches
        self.gamma, self.gae_lambda = gamma, gae_lambda
        self.loss_options = dict(clip_coef=clip_coef, clip_value_loss=clip_value_loss, value_coef=value_coef,
                                 entropy_coef=entropy_coef, normalize_advantages=normalize_advantages)
        self.grad_clip_norm = math.inf if grad_clip_norm is None else grad_clip_norm
        self.target_kl = target_kl
        self.recompute_advantages = recompute_advantages
        self.device = device
        self.generator = torch.Generator(device="cpu").manual_seed(seed)  # minibatch shuffles
        self.recent_grad_norms: collections.deque[float] = collections.deque(maxlen=50)  # before clipping
        self.num_updates = 0  # gradient steps
        self.num_rollouts = 0
        self._rows: list[dict[str, float]] = []  # one per rollout since the last ``pop_metrics``
        # hardware.compile: one minibatch's forward and loss as a compiled graph (and its backward);
        # the minibatch steps that compile are timed, logged as compile_s
        self._minibatch_loss = torch.compile(self._loss, **COMPILE_OPTIONS) if compile else self._loss
        self.compile_clock = CompileClock(compile)

    def update(self, batch: RolloutBatch, env_step: int) -> None:
        """Learn from one rollout. ``env_step``: env steps done before it was collected (drives the lr)."""
        lr = self.lr_schedule(env_step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        advantages, returns = self._advantages(batch, batch.values, batch.last_value)  # [N], [N]
        rollout_returns = returns  # [N] from the rollout's own values (explained variance)
        keep = batch.valid.flatten()  # [T * E]
        obs = batch.obs.flatten(0, 1)[keep]  # [N, *obs_shape]
        actions = batch.actions.flatten(0, 1)[keep]  # [N, A]
        old_log_probs = batch.log_probs.flatten()[keep]  # [N]
        old_values = batch.values.flatten()[keep]  # [N]
        num = obs.shape[0]
        if num == 0:  # every row was a reset step (possible only with 1-step rollouts)
            return
        if self.recompute_advantages and batch.last_obs is None:
            raise ValueError("recompute_advantages needs the rollout's last_obs")
        sums = dict.fromkeys(EPOCH_METRICS, 0.0)
        steps = epochs = 0
        for epoch in range(self.num_epochs):
            if self.recompute_advantages and epoch > 0:
                advantages, returns = self._advantages(batch, *self._current_values(batch))  # [N], [N]
            epochs += 1
            order = torch.randperm(num, generator=self.generator).to(self.device)  # [N]
            # one gather per field and epoch; minibatch i is slice i of it, the same rows in the same
            # order as indexing with order's part i (~N / num_minibatches each)
            sections = min(self.num_minibatches, num)
            shuffled = [field[order].tensor_split(sections)
                        for field in (obs, actions, old_log_probs, old_values, advantages, returns)]
            for minibatch in zip(*shuffled):
                self.compile_clock.start()
                loss, metrics = self._minibatch_loss(*minibatch)
                clear_grads(self.params)
                loss.backward()
                grad_norm = clip_grad_norm(self.params, self.grad_clip_norm)
                self.compile_clock.stop()
                loss_value, grad_norm_value = loss.item(), grad_norm.item()
                self.recent_grad_norms.append(grad_norm_value)
                if not (math.isfinite(loss_value) and math.isfinite(grad_norm_value)):
                    mb_obs, mb_actions, _, _, mb_advantages, mb_returns = minibatch
                    raise NonFiniteError("loss" if not math.isfinite(loss_value) else "grad_norm", env_step, {
                        "loss": loss_value, "grad_norm": grad_norm_value,
                        "minibatch": tensor_statistics(obs=mb_obs, actions=mb_actions, advantages=mb_advantages,
                                                       returns=mb_returns)})
                adam_step(self.optimizer)
                for key, value in metrics.items():
                    sums[key] += float(value)
                sums["loss"] += loss_value
                sums["grad_norm"] += grad_norm_value
                steps += 1
            if self.target_kl is not None and float(metrics["approx_kl"]) > self.target_kl:
                break
        self.num_updates += steps
        self.num_rollouts += 1
        row = {key: total / steps for key, total in sums.items()}  # grad_norm: before clipping
        row.update(explained_variance=float(losses.explained_variance(old_values, rollout_returns)), lr=lr,
                   epochs=epochs, policy_std=float(self.network.log_std.detach().exp().mean()), rollout_transitions=num)
        self._rows.append(row)

    def _loss(self, obs: torch.Tensor, actions: torch.Tensor, old_log_probs: torch.Tensor, old_values: torch.Tensor,
              advantages: torch.Tensor, returns: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One minibatch's forward pass and loss: obs [B, *obs_shape], actions [B, A], the rest [B]."""
        mean, log_std, values = self.network(obs)  # [B, A], [A], [B]
        return losses.ppo_loss(mean, log_std, values, actions, old_log_probs, old_values, advantages, returns,
                               **self.loss_options)

    def _advantages(self, batch: RolloutBatch, values: torch.Tensor,
                    last_value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """GAE advantages and lambda-returns of the valid rows, from values [T, E] and last_value [E]: [N], [N]."""
        advantages, returns = losses.generalized_advantages(
            batch.rewards, values, last_value, batch.terminated, batch.truncated, batch.valid,
            self.gamma, self.gae_lambda)  # [T, E], [T, E]
        keep = batch.valid.flatten()  # [T * E]
        return advantages.flatten()[keep], returns.flatten()[keep]

    @torch.no_grad()
    def _current_values(self, batch: RolloutBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """The current critic's values of every rollout row [T, E] (reset rows included: their obs is
        the finished episode's final obs) and of the obs after the rollout [E]."""
        num_steps, num_envs = batch.values.shape
        values = self.network.value(batch.obs.flatten(0, 1)).view(num_steps, num_envs)  # [T, E]
        return values, self.network.value(batch.last_obs.to(self.device))  # [T, E], [E]

    def pop_metrics(self) -> dict[str, float]:
        """Means over the rollouts learned from since the last call, plus the update counters."""
        rows, self._rows = self._rows, []
        out = {key: sum(r[key] for r in rows) / len(rows) for key in rows[0]} if rows else {}
        compile_s = self.compile_clock.pop()
        if compile_s is not None:  # the compiling steps' seconds since the last row, inside its sps
            out["compile_s"] = compile_s
        return {**out, "updates": self.num_updates, "rollouts": self.num_rollouts}

    def weights_finite(self) -> bool:
        return all(torch.isfinite(p).all() for p in self.network.parameters())

    def state_dict(self) -> dict:
        return {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "num_updates": self.num_updates,
                "num_rollouts": self.num_rollouts}

    def load_state_dict(self, state: dict) -> None:
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.num_updates = int(state["num_updates"])
        self.num_rollouts = int(state["num_rollouts"])
