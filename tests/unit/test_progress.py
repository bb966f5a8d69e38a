"""The progress line: one line redrawn in place within the terminal's width, the recent SPS, no
ETA before a rate is known, a status while not stepping; plain lines when not on a terminal."""

import fcntl
import io
import os
import pty
import select
import struct
import termios

from rlkit.progress import ProgressLine, describe


def test_the_line_shows_recent_sps_and_eval_step_and_no_eta_before_a_rate():
    assert "eta" not in describe({}, 0, 1000)
    row = {"train/episode_return_mean": 12.5, "eval/return_mean": 30.0, "eval_env_step": 150_000, "loss": 0.25,
           "grad_norm": 1.5, "sps": 500.0}
    text = describe(row, 400_000, 1_000_000)
    assert "return 12.5" in text and "eval 30 @150k" in text and "500 sps" in text
    assert "eta 20:00" in text  # (1M - 400k) / 500 sps = 1200 s, from the recent SPS


def test_a_terminal_gets_one_line_redrawn_in_place_within_80_columns():
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # an 80-column terminal
    with os.fdopen(slave, "w") as terminal:
        line = ProgressLine(1_000_000, 0, enabled=True, stream=terminal)
        row = {"train/episode_return_mean": 12.5, "eval/return_mean": 30.0, "eval_env_step": 150_000, "loss": 0.25,
               "grad_norm": 1.5, "sps": 500.0}
        for step in range(1000, 20_000, 1000):
            line.update(step, row, force=True)
        line.status("final evaluation: 10 episodes")
        line.close()
    output = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    text = output.decode()
    redraws = [d.strip("\n") for d in text.split("\r") if d.strip()]
    assert len(redraws) >= 10 and text.count("\n") <= 2  # redrawn in place, a newline at the end
    assert all(len(d) <= 80 for d in redraws), max(redraws, key=len)
    assert "final evaluation: 10 episodes" in redraws[-1]


def test_without_a_terminal_a_plain_line_every_interval():
    out = io.StringIO()
    line = ProgressLine(10_000, 0, enabled=True, line_interval_s=3600, stream=out)
    for step in range(100, 5000, 100):
        line.update(step, {"sps": 100.0})
    line.status("random baseline: 10 episodes")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()  # the first update, then the status
    assert lines[0].startswith("100/10000 steps") and lines[1].endswith(", random baseline: 10 episodes")


def test_a_run_that_passes_its_budget_by_a_few_env_steps_shows_a_full_bar_not_an_unknown_total():
    out = io.StringIO()
    line = ProgressLine(400, 0, enabled=True, stream=out)
    line.update(404, {"sps": 100.0}, force=True)  # 4 envs: the last vector step ends at 404
    assert out.getvalue().startswith("404/404 steps |") and "?" not in out.getvalue()
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as terminal:
        bar_line = ProgressLine(400, 0, enabled=True, stream=terminal)
        bar_line.update(404, {"sps": 100.0}, force=True)
        assert bar_line.bar.total == 404 and bar_line.bar.n == 404
        bar_line.close()
    os.close(master)
