"""Load a trained agent from its run dir and act with it from Python:

    agent = rlkit.load("outputs/runs/2026-12-01/12-00-00-000000")
    envs = agent.make_envs(num_envs=1)
    obs = envs.reset(seed=0)
    actions = agent.act(obs)          # [E] or [E, act_dim], the run's evaluation policy

The run's own config (config.yaml) rebuilds the agent through the registries; the newest
checkpoint is loaded unless another one is named (``checkpoint="best.pt"`` for the best evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from rlkit.checkpoint import CheckpointError
from rlkit.config import HardwareConfig, HealthConfig, LoggerConfig, RootConfig, register_schemas, to_run_config

CONFIG_FILE = "config.yaml"


def typed_run_config(resolved: DictConfig | dict) -> RootConfig:
    """A run's resolved config (config.yaml, or a checkpoint's "config") as typed dataclasses: each
    group is merged onto the schema its ``name`` registered."""
    from rlkit.algos import ALGOS
    from rlkit.envs import ENVS
    from rlkit.networks import NETWORKS

    register_schemas()
    cfg = OmegaConf.create(resolved) if isinstance(resolved, dict) else resolved
    algo = ALGOS.entry(cfg.algo.name)
    schemas = {"env": ENVS.entry(cfg.env.name).schema, "network": NETWORKS.entry(cfg.network.name).schema,
               "algo": algo.schema, "schedule": algo.traits["schedule"], "hardware": HardwareConfig,
               "logger": LoggerConfig, "health": HealthConfig}
    typed = OmegaConf.create({key: value for key, value in cfg.items() if key not in schemas})
    for group, schema in schemas.items():
        typed[group] = OmegaConf.merge(OmegaConf.structured(schema), cfg[group])
    return to_run_config(typed)


@dataclass
class LoadedAgent:
    agent: Any  # the algorithm's agent (rlkit/runner.py's Agent protocol)
    config: RootConfig  # the run's config
    checkpoint_path: Path
    env_step: int  # the env steps the checkpoint had trained for

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The run's evaluation policy for ``obs [E, *obs_shape]`` (DQN: epsilon-greedy with
        algo.eval_epsilon; PPO: the mean action unless algo.eval_deterministic=false)."""
        return self.agent.act_eval(obs)

    def make_envs(self, num_envs: int = 1, backend: str = "auto"):
        """Evaluation envs of the run's task (``reset(seed)``, ``step(actions)``, ``close()``)."""
        from rlkit.envs import ENVS

        builder = ENVS.get(self.config.env.name)
        return builder(self.config.env.for_evaluation(), num_envs=num_envs, backend=backend,
                       env_threads=self.config.hardware.env_threads)


def load(run_dir: str | Path, checkpoint_name: str | None = None, device: str = "auto") -> LoadedAgent:
    """The agent of ``run_dir`` with the newest checkpoint (or ``checkpoints/<checkpoint_name>``) on
    ``device`` (auto: the run's own where this machine has it, else cpu): ``rlkit-eval``'s checks and
    agent (rlkit.evaluate: load_checkpoint, build_agent)."""
    from rlkit.build import inference_device
    from rlkit.evaluate import build_agent, load_checkpoint

    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise CheckpointError(f"{run_dir} is not an rlkit run dir ({CONFIG_FILE} missing)")
    loaded = load_checkpoint(run_dir, checkpoint_name)
    envs = LoadedAgent(None, loaded.run, loaded.path, 0).make_envs(num_envs=1)
    try:
        agent = build_agent(loaded, envs.spec, inference_device(device, loaded.run.hardware.device),
                            at_eval_start=False)
    finally:
        envs.close()
    return LoadedAgent(agent, loaded.run, loaded.path, loaded.env_step)
