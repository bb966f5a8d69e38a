"""rlkit: Hydra-composed RL experiments (DQN family and IQN on Atari, PPO on MuJoCo)."""

__version__ = "0.1.0"
