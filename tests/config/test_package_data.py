"""rlkit installs like a library: the wheel carries every config YAML and the console script."""

import subprocess
import sys
import zipfile

from tests.conftest import CONF, REPO


def test_the_wheel_ships_every_config_and_the_console_script(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(tmp_path)], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("rlkit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    expected = {f"rlkit/conf/{p.relative_to(CONF).as_posix()}" for p in CONF.rglob("*.yaml")}
    assert len(expected) > 40 and expected <= names
    assert "rlkit/conf/config.yaml" in names and "rlkit/conf/env/gym.yaml" in names
    assert "rlkit = rlkit.__main__:cli" in entry_points
    assert "rlkit-eval = rlkit.evaluate:cli" in entry_points
