"""rlkit's Hydra config groups (a package so Hydra finds them in a non-editable install)."""
