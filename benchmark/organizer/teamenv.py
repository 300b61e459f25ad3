"""A team's own packages (``--team-env auto``): an overlay environment on top of the harness's, cached by content.

A team that imports a package the harness lacks (einops, timm, basicsr …) would end with "needs the
package". With ``--team-env auto`` its worker is started again with an overlay: a folder that pip
installs into with ``--prefix``, put last on the worker's ``sys.path`` once the harness is imported, so that
nothing in it (an opencv-python beside the harness's headless one, a torchvision that ptflops would pick up)
changes the harness's own modules. pip runs with the harness's
own interpreter, so whatever the harness already has is "already satisfied" and stays as it is: every
distribution of the harness is pinned to its installed version (a constraints file), so no overlay ever
replaces torch or numpy under the harness's figures. What is installed is the team's own requirements
file where the repository ships one for it (``team05_requirements.txt``, ``requirements_team05.txt``,
``models/team05_*/requirements.txt``), else the missing imports mapped to their distributions, at the
version the repository's ``requirements.txt`` pins when it pins one. Overlays are cached under
``.cache/team-envs/<sha256 of what they hold>``: teams that need the same packages share one, and a
second sweep installs nothing. A package that cannot be installed here (one that compiles CUDA code,
such as mamba_ssm) ends the team with one line naming it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.core.files import locked

PROJECT = Path(__file__).resolve().parents[2]
CACHE = PROJECT / ".cache" / "team-envs"
ROUNDS = 4
"""Worker runs per team at most: the first, then one after each install of what it was still missing."""
PIP_SECONDS = 1200
"""An install that takes longer than this (a package compiling CUDA code, say) counts as failed."""
DISTRIBUTIONS = {
    "PIL": "pillow", "cv2": "opencv-python-headless", "skimage": "scikit-image", "sklearn": "scikit-learn",
    "yaml": "PyYAML", "mamba_ssm": "mamba-ssm", "causal_conv1d": "causal-conv1d", "huggingface_hub": "huggingface_hub",
    "einops": "einops", "timm": "timm", "basicsr": "basicsr", "torchvision": "torchvision", "thop": "thop",
    "natten": "natten", "kornia": "kornia", "lpips": "lpips", "pywt": "PyWavelets", "fast_pytorch_kernels": None,
}
"""Import name → its distribution on PyPI, where the two differ or are known; None: not on PyPI (never installed).
Any other import is taken to be its own distribution's name."""


class TeamEnvError(Exception):
    """The team's packages cannot be installed here; the message is one line naming them."""


@dataclass(frozen=True)
class Overlay:
    folder: Path
    requirements: tuple[str, ...]

    @property
    def site(self) -> Path:
        return self.folder / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"

    def packages(self) -> dict[str, str]:
        """Distribution → version of everything the overlay holds."""
        return {d.metadata["Name"]: d.version for d in importlib.metadata.distributions(path=[str(self.site)])}

    def describe(self) -> dict[str, Any]:
        """What the entry records: where, what was asked for, and every package with its version."""
        return {"folder": str(self.folder), "site": str(self.site), "requirements": list(self.requirements),
                "packages": self.packages()}


def _pins(repo: Path) -> dict[str, str]:
    """Distribution (lower case) → the requirement line the repository's requirements.txt pins it with."""
    pins = {}
    with contextlib.suppress(OSError):
        for line in (repo / "requirements.txt").read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([\w.+\-]+)\s*$", line)
            if match:
                pins[match[1].lower().replace("_", "-")] = f"{match[1]}=={match[2]}"
    return pins


def own_requirements(repo: Path, team_id: int) -> Path | None:
    """The requirements file the repository ships for this team, if any."""
    team = f"team{team_id:02}"
    for pattern in (f"{team}*requirements*.txt", f"requirements*{team}*.txt", f"models/{team}*requirements*.txt",
                    f"models/{team}*/requirements*.txt"):
        found = sorted(repo.glob(pattern))
        if found:
            return found[0]
    return None


def requirements(job: dict[str, Any], missing: list[str]) -> list[str]:
    """What the team's overlay holds: its own requirements file's lines, else each missing import's distribution."""
    repo = Path(job["repo"]) if job.get("repo") else None
    own = own_requirements(repo, job["team_id"]) if repo is not None else None
    if own is not None:
        lines = [line.split("#")[0].strip() for line in own.read_text(encoding="utf-8", errors="replace").splitlines()]
        return sorted({line for line in lines if line and not line.startswith("-")})
    pins = _pins(repo) if repo is not None else {}
    wanted = []
    for name in missing:
        if name in DISTRIBUTIONS and DISTRIBUTIONS[name] is None:
            raise TeamEnvError(f"needs the package '{name}', which is not published on PyPI; install it by hand")
        dist = DISTRIBUTIONS.get(name, name)
        wanted.append(pins.get(dist.lower().replace("_", "-"), dist))
    return sorted(set(wanted))


def harness_pins() -> str:
    """Every distribution of the harness's environment at its installed version: the overlay changes none."""
    return "".join(sorted({f"{d.metadata['Name']}=={d.version}\n" for d in importlib.metadata.distributions()
                           if d.metadata["Name"]}))


def _failure(wanted: list[str], output: str) -> str:
    errors = [line.removeprefix("ERROR:").strip() for line in output.splitlines() if line.startswith("ERROR:")]
    hints = [line.strip() for line in output.splitlines() if re.search(r"CUDA_HOME|nvcc|CUDA", line)]
    why = hints[-1] if hints else errors[-1] if errors else (output.strip().splitlines() or ["no output"])[-1]
    why = re.sub(r"^.*?\b\w*(Warning|Error):\s*", "", why).split(". ")[0].strip()
    why = why if len(why) <= 160 else why[:159] + "…"
    return f"needs {', '.join(wanted)}, which cannot be installed here ({why})"


def ensure(wanted: list[str], log: Path | None = None) -> Overlay:
    """The overlay holding ``wanted`` (requirement lines), installed once and cached; TeamEnvError when pip fails."""
    pins = harness_pins()
    key = hashlib.sha256(json.dumps([sorted(wanted), sys.version, pins]).encode()).hexdigest()[:20]
    overlay = Overlay(CACHE / key, tuple(sorted(wanted)))
    done = overlay.folder / "requirements.in"
    if done.is_file():
        return overlay
    CACHE.mkdir(parents=True, exist_ok=True)
    with locked(CACHE / f"{key}.json"):
        if done.is_file():
            return overlay
        tmp = CACHE / f".{key}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        (tmp / "constraints.txt").write_text(pins)
        cmd = [sys.executable, "-m", "pip", "install", "--prefix", str(tmp), "--no-build-isolation", "--no-input",
               "--disable-pip-version-check", "--no-warn-script-location", "-c", str(tmp / "constraints.txt"),
               *wanted]
        env = {**os.environ, "PIP_NO_INPUT": "1"}
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_SECONDS, env=env,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            shutil.rmtree(tmp, ignore_errors=True)
            raise TeamEnvError(f"needs {', '.join(wanted)}, whose install took over {PIP_SECONDS} s") from None
        if log is not None:
            with open(log, "a", encoding="utf-8") as f:
                f.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise TeamEnvError(_failure(wanted, proc.stdout + proc.stderr))
        (tmp / "requirements.in").write_text("".join(f"{w}\n" for w in sorted(wanted)))
        shutil.rmtree(overlay.folder, ignore_errors=True)
        os.replace(tmp, overlay.folder)
    return overlay
