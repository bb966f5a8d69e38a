"""python -m rlkit [group=option ...] [key=value ...]: validate -> build -> run."""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from rlkit.config import register_schemas

register_schemas()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    from rlkit.launch import JobContext, run_job

    result = run_job(cfg, JobContext.from_hydra())
    if result.get("exit_code", 0) != 0:
        print(f"rlkit: error: {result['error']}", file=sys.stderr)
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            sys.exit(result["exit_code"])
    return result


if __name__ == "__main__":
    main()
