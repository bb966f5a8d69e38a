"""One registry type for every component group: name -> (builder, schema, traits).

Registering a component registers its config schema with it: the dataclass is stored in Hydra's
ConfigStore as ``schema/<group>/<name>``, which is what a YAML option's defaults list names
(``- /schema/algo@algo: dqn``). So a new algorithm, network or env is one module with one
decorator plus one YAML file, and the core never lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from hydra.core.config_store import ConfigStore

T = TypeVar("T")


class UnknownComponentError(KeyError):
    """Raised for a name no component was registered under; the message lists the known names."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


@dataclass(frozen=True)
class Entry(Generic[T]):
    component: T  # the builder (function or class)
    schema: type | None  # the config dataclass of this option (its `name` field is the registry key)
    traits: dict[str, Any] = field(default_factory=dict)  # what the component needs, read by build.py


class Registry(Generic[T]):
    """Maps a config ``name:`` to the function or class that builds the component.

    >>> NETWORKS = Registry("network")
    >>> @NETWORKS.register("mlp", schema=MLPConfig)
    ... def build_mlp(config: MLPConfig, ...): ...
    """

    def __init__(self, group: str) -> None:
        self.group = group
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, *, schema: type | None = None, **traits: Any) -> Callable[[T], T]:
        def decorate(obj: T) -> T:
            self.add(name, obj, schema=schema, **traits)
            return obj

        return decorate

    def add(self, name: str, component: T, *, schema: type | None = None, **traits: Any) -> None:
        if name in self._entries:
            raise ValueError(f"{self.group} '{name}' is registered twice")
        self._entries[name] = Entry(component, schema, traits)
        if schema is not None:
            ConfigStore.instance().store(group=f"schema/{self.group}", name=name, node=schema)

    def entry(self, name: str) -> Entry[T]:
        if name not in self._entries:
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise UnknownComponentError(f"unknown {self.group} name '{name}'; known: {known}")
        return self._entries[name]

    def get(self, name: str) -> T:
        return self.entry(name).component

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries
