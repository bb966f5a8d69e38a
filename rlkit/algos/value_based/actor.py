"""Acting with a value function: epsilon-greedy or Boltzmann exploration on linear schedules."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from rlkit.algos.value_based.losses import boltzmann_policy
from rlkit.schedules import LinearSchedule


def epsilon_greedy(q_of: Callable[[np.ndarray], torch.Tensor | np.ndarray], obs: np.ndarray, num_actions: int,
                   epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """obs [E, *obs_shape] -> actions [E] int64: greedy, except uniform with probability epsilon.

    The random draws come first and ``q_of`` (obs [G, *obs_shape] -> Q [G, A], a tensor or a numpy
    array) runs only on the G envs that act greedily: a step that explores everywhere costs no
    network forward. Ties go to the first maximal action either way."""
    return epsilon_greedy_choice(q_of, obs, num_actions, epsilon, rng)[0]


def epsilon_greedy_choice(q_of: Callable[[np.ndarray], torch.Tensor | np.ndarray], obs: np.ndarray,
                          num_actions: int, epsilon: float, rng: np.random.Generator
                          ) -> tuple[np.ndarray, np.ndarray, torch.Tensor | np.ndarray | None]:
    """``epsilon_greedy`` with what it chose by: (actions [E] int64, explore [E] bool, Q [G, A] of the
    greedy envs in order, or None when all explore). Q that draws random taus (IQN) must be read
    here rather than computed again: a second forward would give other values."""
    num_envs = len(obs)
    explore = rng.random(num_envs) < epsilon  # [E]
    actions = rng.integers(num_actions, size=num_envs).astype(np.int64)  # [E]
    greedy = ~explore  # [E]
    q = None
    if greedy.any():
        q = q_of(obs[greedy])  # [G, A]
        actions[greedy] = q.argmax(axis=1) if isinstance(q, np.ndarray) else q.argmax(dim=1).cpu().numpy()  # [G]
    return actions, explore, q


def boltzmann_sample(q: torch.Tensor, temperature: float, generator: torch.Generator) -> np.ndarray:
    """q [E, A] -> actions [E] int64 drawn from softmax(q / T) (float32, max subtracted)."""
    probs = boltzmann_policy(q.float().cpu(), temperature)  # [E, A]
    return torch.multinomial(probs, 1, generator=generator).squeeze(1).numpy().astype(np.int64)


class ValueActor:
    """Turns observations into actions for training (exploring) and evaluation (epsilon-greedy)."""

    def __init__(self, q_values: Callable[[torch.Tensor], torch.Tensor],
                 eval_q_values: Callable[[torch.Tensor], torch.Tensor], n_actions: int, *, exploration: str,
                 epsilon_schedule: LinearSchedule, temperature_schedule: LinearSchedule,
                 device: torch.device, amp: bool, seed: int) -> None:
        self.q_values = q_values  # obs [E, *obs_shape] -> [E, A], while training
        self.eval_q_values = eval_q_values  # the same for evaluation (its own random stream, if any)
        self.n_actions = n_actions
        self.exploration = exploration
        self.epsilon_schedule = epsilon_schedule
        self.temperature_schedule = temperature_schedule
        self.device = device
        self.amp = amp
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        # a forward with numpy in and out where the network has one (HostQNetwork.q_numpy), for
        # epsilon-greedy acting; Boltzmann sampling draws from a torch generator, so it takes tensors
        self._numpy_q = getattr(q_values, "q_numpy", None)
        self._numpy_eval_q = getattr(eval_q_values, "q_numpy", None)

    def _q(self, obs: np.ndarray, q_values: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        with torch.inference_mode():
            obs_tensor = torch.from_numpy(obs).to(self.device)  # [E, *obs_shape]
            if not self.amp:
                return q_values(obs_tensor).float()  # [E, A]
            with torch.autocast(self.device.type, dtype=torch.float16):
                return q_values(obs_tensor).float()  # [E, A]

    def random(self, num_envs: int) -> np.ndarray:
        return self.rng.integers(self.n_actions, size=num_envs).astype(np.int64)  # [E]

    def act(self, obs: np.ndarray, env_step: int) -> np.ndarray:
        if self.exploration == "boltzmann":
            return boltzmann_sample(self._q(obs, self.q_values), self.temperature_schedule(env_step), self.generator)
        return epsilon_greedy(self._numpy_q or (lambda o: self._q(o, self.q_values)), obs, self.n_actions,
                              self.epsilon_schedule(env_step), self.rng)

    def exploration_value(self, env_step: int) -> dict[str, float]:
        if self.exploration == "boltzmann":
            return {"temperature_explore": self.temperature_schedule(env_step)}
        return {"epsilon": self.epsilon_schedule(env_step)}

    def act_eval(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        return epsilon_greedy(self._numpy_eval_q or (lambda o: self._q(o, self.eval_q_values)), obs, self.n_actions,
                              epsilon, rng)

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"])
