"""rlkit installs like a library: the wheel carries every config YAML and the console script, and
the installed package (not this checkout) runs from any directory."""

import os
import shutil
import subprocess
import sys
import zipfile

from tests.conftest import CONF, REPO


def test_the_wheel_ships_every_config_and_the_console_script(tmp_path):
    had_build_dir = (REPO / "build").exists()
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(tmp_path)], check=True, capture_output=True, cwd=tmp_path)
    if not had_build_dir:  # setuptools builds in the checkout: leave it as it was
        shutil.rmtree(REPO / "build", ignore_errors=True)
    (wheel,) = tmp_path.glob("rlkit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    expected = {f"rlkit/conf/{p.relative_to(CONF).as_posix()}" for p in CONF.rglob("*.yaml")}
    assert len(expected) > 40 and expected <= names
    assert "rlkit/conf/config.yaml" in names and "rlkit/conf/env/gym.yaml" in names
    assert "rlkit = rlkit.__main__:cli" in entry_points
    assert "rlkit-eval = rlkit.evaluate:cli" in entry_points
    assert "rlkit/conf/__init__.py" in names  # Hydra finds the configs of an installed package as a module

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "WANDB_MODE": "disabled"}
    where = subprocess.run([sys.executable, "-c", "import rlkit; print(rlkit.__file__)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site))
    check = subprocess.run([sys.executable, "-m", "rlkit", "check", "env=cartpole"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and "the config is valid" in check.stdout, check.stderr
    assert not (elsewhere / "outputs").exists() or not any((elsewhere / "outputs").rglob("*.json*"))
