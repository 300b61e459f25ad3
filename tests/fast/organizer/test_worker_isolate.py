"""The sweep worker's ``isolate``: once the harness built a network of its own (the year's baseline, the atlas's
reference), a team whose imports ask ``inspect`` where a module's source is (torch.library does, as torchvision
registers its operators) still imports: the repository's ``models`` has no file, the harness's had one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import PROJECT

TEAM = '''\
import inspect
import sys

WHERE = inspect.getframeinfo(sys._getframe(0))  # what torch.library does on registering an operator
'''
SCRIPT = '''\
import inspect, sys
from pathlib import Path
from benchmark.organizer import worker
import models  # the harness's, as building the reference network imports it
inspect.getframeinfo(sys._getframe(0))  # inspect now remembers models/__init__.py
worker.isolate(Path(sys.argv[1]))
from models import team01_Inspects
print("imported", team01_Inspects.WHERE.lineno)
'''


def test_a_team_that_asks_inspect_imports_after_isolate(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / "models" / "team01_Inspects.py").write_text(TEAM)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(repo)], cwd=PROJECT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "imported 4"
