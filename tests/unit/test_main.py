"""`python -m rlkit`'s checks before Hydra starts (rlkit/__main__.py)."""

from rlkit import __main__ as entry


def test_a_sweeper_or_launcher_from_an_extra_not_installed_names_the_extra(monkeypatch):
    monkeypatch.setattr(entry, "_importable", lambda module: module != "hydra_plugins.hydra_optuna_sweeper")
    problem = entry.missing_plugin(["-m", "experiment=search_lr_batch_cpu"])
    assert problem.startswith("experiment=search_lr_batch_cpu is not allowed here: hydra/sweeper=optuna needs the"
                              " optional extra 'optuna'") and '.venv/bin/pip install -e ".[optuna]"' in problem
    assert "hydra/sweeper=optuna is not allowed" in entry.missing_plugin(["-m", "hydra/sweeper=optuna"])
    assert entry.missing_plugin(["-m", "experiment=cartpole_dqn", "hydra/launcher=joblib"]) is None
    monkeypatch.setattr(entry, "_importable", lambda module: False)
    assert "'ray'" in entry.missing_plugin(["-m", "hydra/launcher=ray"])
    monkeypatch.setattr(entry, "_importable", lambda module: True)
    assert entry.missing_plugin(["-m", "experiment=search_lr_batch_cpu", "hydra/launcher=ray"]) is None
