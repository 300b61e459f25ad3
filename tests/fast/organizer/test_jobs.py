"""The worker's watch: a team that prints without end is killed at the log's bound, its printing stopped."""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.organizer import jobs


def test_a_team_printing_without_end_is_killed_at_the_log_bound(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "LOG_BYTES", 1 << 20)
    log = tmp_path / "team.log"
    # 64 MiB, then silence: killed for its output, not for the time limit (and a regression writes no more than that)
    script = "import sys, time\nfor _ in range(1024):\n    sys.stdout.write('x' * 65536)\ntime.sleep(60)\n"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        why = jobs._watch(proc, time.perf_counter(), 10, None, log)
    assert why is not None and re.fullmatch(r"printed \d+ MiB, over the 1 MiB a team's log may hold \(killed.*\)", why)
    assert proc.returncode is not None  # dead, and its log stopped growing
    size = log.stat().st_size
    time.sleep(0.3)
    assert log.stat().st_size == size
