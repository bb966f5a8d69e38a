"""The agent's state at the start of an evaluation, kept beside it in checkpoints.

An evaluation changes an agent's state only in its evaluation random streams (DQN's epsilon
draws, IQN's evaluation taus, PPO's action noise when it samples), and a checkpoint is written
after the evaluation at its env step. To let ``rlkit-eval`` replay that evaluation exactly, the
runner takes ``agent.state_dict()`` before and after each evaluation and keeps the leaves that
differ, at their values before it (``changed_leaves``): a few hundred bytes, whatever the
algorithm, with no method asked of the agent. ``with_leaves(checkpoint agent state, changes)``
is then the agent's state as the evaluation began.

Leaves are compared by value: tensors with ``torch.equal`` (the weights in both snapshots share
storage, so they compare equal unless changed), numpy arrays with ``np.array_equal``, the rest
with ``==``. A path is the list of keys (dict keys, list or tuple indices) from the root.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

KeyPath = list  # [key or index, ...] from the root of a nested state


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
                and a.dtype == b.dtype and torch.equal(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an object whose == is not a truth value
        return False


def changed_leaves(before: Any, after: Any, path: KeyPath | None = None) -> list[tuple[KeyPath, Any]]:
    """``(path, value before)`` for every leaf of ``before`` that ``after`` changed; a subtree whose
    keys or length changed counts as one changed leaf."""
    path = [] if path is None else path
    if isinstance(before, dict) and isinstance(after, dict):
        if before.keys() != after.keys():
            return [(path, before)]
        return [change for key in before for change in changed_leaves(before[key], after[key], path + [key])]
    if isinstance(before, (list, tuple)) and isinstance(after, (list, tuple)) and type(before) is type(after):
        if len(before) != len(after):
            return [(path, before)]
        return [change for i, (x, y) in enumerate(zip(before, after)) for change in changed_leaves(x, y, path + [i])]
    return [] if _equal(before, after) else [(path, before)]


def with_leaves(state: Any, changes: list[tuple[KeyPath, Any]]) -> Any:
    """A copy of ``state`` (containers copied, leaves shared) with each ``(path, value)`` set."""
    for path, value in changes:
        state = _set(state, list(path), value)
    return state


def _set(node: Any, path: KeyPath, value: Any) -> Any:
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(node, dict):
        if key not in node:
            raise KeyError(f"the state has no key {key!r} where the evaluation start changed one")
        copy = type(node)(node) if type(node) is not dict else dict(node)
        copy[key] = _set(node[key], rest, value)
        return copy
    if isinstance(node, (list, tuple)):
        items = list(node)
        items[key] = _set(items[key], rest, value)
        return type(node)(items)
    raise KeyError(f"the state has a leaf where the evaluation start changed a container at {key!r}")


def _leaf(state: Any, path: KeyPath) -> Any:
    for key in path:
        state = state[key]
    return state


def generator_states_of_another_device(fresh: Any, saved: Any, path: KeyPath | None = None) -> list[KeyPath]:
    """Paths where ``saved`` holds a torch generator's state that does not fit the generator of
    ``fresh`` (an agent's state as built): a byte state of another length, a CUDA generator's
    (seed and offset) against a CPU one's (the Mersenne Twister's) or the other way round."""
    path = [] if path is None else path
    if isinstance(fresh, dict) and isinstance(saved, dict):
        return [p for key in fresh.keys() & saved.keys()
                for p in generator_states_of_another_device(fresh[key], saved[key], path + [key])]
    if isinstance(fresh, (list, tuple)) and isinstance(saved, (list, tuple)) and len(fresh) == len(saved):
        return [p for i, (x, y) in enumerate(zip(fresh, saved))
                for p in generator_states_of_another_device(x, y, path + [i])]
    bytes_of = (lambda t: isinstance(t, torch.Tensor) and t.dtype == torch.uint8 and t.dim() == 1)  # noqa: E731
    return [path] if bytes_of(fresh) and bytes_of(saved) and fresh.numel() != saved.numel() else []


def with_fresh_generators(fresh: Any, saved: Any) -> tuple[Any, list[KeyPath]]:
    """``saved`` with each generator state of another device (``generator_states_of_another_device``)
    replaced by ``fresh``'s, as seeded at build; and those paths."""
    paths = generator_states_of_another_device(fresh, saved)
    return with_leaves(saved, [(path, _leaf(fresh, path)) for path in paths]), paths
