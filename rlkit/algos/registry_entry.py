"""What the ALGOS registry holds for each algorithm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class AlgoEntry:
    build: Callable[..., Any]  # (run config, env spec, device) -> the algorithm's parts
    loop: str  # "off_policy" or "on_policy"
    action_kind: str  # "discrete" or "continuous": the action spaces it supports
    schedule_kind: str  # the schedule schema it needs ("off_policy" / "on_policy")
