"""rlkit: Hydra-composed RL experiments (DQN family and IQN on Atari, PPO and SAC on MuJoCo)."""

__version__ = "0.1.0"


def load(run_dir, checkpoint_name=None, device="auto"):
    """``rlkit.load(run_dir)``: the trained agent of a run, ready to ``act(obs)``; see rlkit/loading.py."""
    from rlkit.loading import load as load_run

    return load_run(run_dir, checkpoint_name, device)
