"""One team's evaluation in a process of its own: ``python -m benchmark.organizer.worker JOBFILE``.

Started by ``benchmark.sweep`` (on this machine, or inside a Ray task on another), one process per
team, so that a team's import error, CUDA crash, hang or memory blow-up ends that team only. The
job file (JSON) says which team, from where (a challenge repository's ``select_model``, or this
project's registry), on which splits and device; the worker builds the model, measures it exactly
as ``test_demo.py`` measures a registered team — ``benchmark.measure.complexity.measure``, then
``benchmark.record.run.measure_and_record`` — and writes the finished entry (or one line saying why there
is none) to the job's ``output`` file. It never writes the results file: the sweep's driver does,
so that file only ever holds complete entries. What the worker prints goes to the team's log.

A challenge repository's ``models/`` has no ``__init__.py`` (a namespace package) while this
project's ``models/`` is a regular package, and a regular package anywhere on ``sys.path`` wins. So
the harness is imported first; then this project's root leaves ``sys.path``, ``models`` leaves
``sys.modules``, the repository's namespace folders are pinned to the repository, the repository
goes first on ``sys.path`` and becomes the working directory, and its ``test_demo.py`` is imported
under a private name. Running its ``select_model`` runs the team's own code, with this process's
rights: that is what evaluating a submission means.
"""

from __future__ import annotations

from benchmark.core import host

host.sleeping_threads()  # before anything loads PyTorch's OpenMP threads

# Everything the harness needs is imported here, while this project's root is still on sys.path.
import argparse
import ast
import contextlib
import ctypes
import ctypes.util
import faulthandler
import importlib.machinery
import importlib.util
import inspect
import json
import os
import re
import signal
import sys
import traceback
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

with warnings.catch_warnings():  # measure() imports these lazily: import them before the repository is on sys.path
    warnings.simplefilter("ignore", DeprecationWarning)
    import fvcore.nn  # noqa: F401
    import ptflops  # noqa: F401

from benchmark.core.errors import HarnessError
from benchmark.core.files import PROJECT, key_of, name_under, sha256_of
from benchmark.data.splits import ImagePair, Split
from benchmark.measure.backend import cap_gpu_memory
from benchmark.measure.complexity import measure
from benchmark.measure.loop import ImageResult
from benchmark.measure.paired import Baseline, load_baseline
from benchmark.measure.settings import Settings
from benchmark.organizer.challenge import Branch, namespace_folders, read_repository
from benchmark.organizer.dryrun import Loads, cpu_only, dry_keys
from benchmark.organizer.jobs import PHASE, descendants, kill_processes
from benchmark.organizer.preflight import LoadedStates, load_findings, output_findings
from benchmark.organizer.reasons import explain, lasting
from benchmark.organizer.tracing import Opened, split_digest
from benchmark.record.environment import device_name
from benchmark.record.keys import results_name
from benchmark.record.run import measure_and_record
from benchmark.report.progress import image_line

TEST_DEMO_MODULE = "_esr_challenge_test_demo"
PARENT_ENV = "ESR_SWEEP_PARENT"
_phase = "starting"


def phase(text: str) -> None:
    global _phase
    _phase = text
    print(PHASE + text, flush=True)


def _die_with_parent() -> None:
    """Linux: be killed when the process that started this one dies (a driver killed with SIGKILL leaves no
    orphan timing a team beside the next run)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    expected = os.environ.get(PARENT_ENV)
    if expected and expected.isdigit() and os.getppid() != int(expected):
        os._exit(3)  # the parent is already gone


@dataclass
class Built:
    """What the worker needs after building a team."""

    model: torch.nn.Module
    name: str
    data_range: float
    tile: int | None
    checkpoints: list[Path]
    code: list[Path]
    scored: bool
    sweep: dict[str, Any]
    """The entry's ``sweep`` block: where the team came from and the sha256 of every input."""
    forward: Callable[..., torch.Tensor] | None = None
    """``forward(img_lr, model, tile)``: the repository's own function for this team (:class:`TeamForward`)."""


class TeamForward(torch.nn.Module):
    """A team's network run on the images through the function the repository's ``run`` calls for it, as the
    organizers ran and timed it (2024's ``forward_team34`` pads each image to the window size and crops the output);
    its complexity is still counted on the network alone, as the official code counts it."""

    def __init__(self, model: torch.nn.Module, function: Callable[..., torch.Tensor], tile: int | None) -> None:
        super().__init__()
        self.model, self.function, self.tile = model, function, tile

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x, self.model, self.tile)


# --- the repository's side -------------------------------------------------------------------------------------


def isolate(repo: Path, overlay: str | None = None) -> None:
    """Make ``models`` (and the repository's other namespace folders) mean the repository's, and work inside it;
    the team's overlay environment (``--team-env auto``), if any, goes last on ``sys.path``."""
    root = str(PROJECT)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != root]
    for name in list(sys.modules):
        if name == "models" or name.startswith("models."):
            del sys.modules[name]
    for folder in namespace_folders(repo):
        if folder in sys.modules and folder != "models":
            print(f"{PHASE}note: the repository's {folder}/ has the name of a module the harness uses; not pinned",
                  flush=True)
            continue
        spec = importlib.machinery.ModuleSpec(folder, None, is_package=True)
        spec.submodule_search_locations = [str(repo / folder)]
        sys.modules[folder] = importlib.util.module_from_spec(spec)
        # inspect remembers the file of each module name it has seen (the harness's models/__init__.py, once the
        # baseline or reference network was built): a name now without a file would make inspect.getmodule raise
        # TypeError inside the team's imports (torch.library, as torchvision registers its operators)
        inspect._filesbymodname.pop(folder, None)
    sys.path.insert(0, str(repo))
    if overlay:
        sys.path.append(overlay)
        importlib.invalidate_caches()
    os.chdir(repo)


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.asname or a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom):
        return [a.asname or a.name for a in node.names]
    return []


def load_test_demo(repo: Path) -> tuple[types.ModuleType, dict[str, str]]:
    """The repository's test_demo.py as a private module; returns it and the names its failed imports left unbound.

    An import that fails at module level (the repository's ``utils`` needing ``torchvision``, say)
    matters only if ``select_model`` uses it: the file is then run statement by statement (line
    numbers kept), each failing import noted and skipped, every other statement as written.
    """
    path = repo / "test_demo.py"
    spec = importlib.util.spec_from_file_location(TEST_DEMO_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[TEST_DEMO_MODULE] = module
    try:
        spec.loader.exec_module(module)
        return module, {}
    except ImportError as err:
        print(f"{PHASE}note: test_demo.py's imports fail here ({type(err).__name__}: {err}); loading it with the "
              "imports that work", flush=True)
    module = importlib.util.module_from_spec(spec)
    sys.modules[TEST_DEMO_MODULE] = module
    tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
    unbound: dict[str, str] = {}
    for node in tree.body:
        code = compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec")
        try:
            exec(code, module.__dict__)  # noqa: S102 - the repository's own module code, as importing it would run it
        except ImportError as err:
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                raise
            for name in _bound_names(node):
                unbound[name] = (err.name or str(err)).split(".")[0]
    return module, unbound


HARNESS_PACKAGES = ("benchmark",)
"""The harness's own top-level package: a repository that ships one of this name gets its own while it is built."""


@contextlib.contextmanager
def own_names(repo: Path) -> Iterator[dict[str, types.ModuleType]]:
    """While the team's code is loaded and built, a package the repository ships under the name of the harness's own
    (its ``benchmark/``) is the repository's: the harness's modules leave ``sys.modules`` and come back afterwards.
    Yields the team's modules of those names, filled in when the block ends."""
    names = {n for n in HARNESS_PACKAGES if (repo / n).is_dir() or (repo / f"{n}.py").is_file()}
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] in names}
    team: dict[str, types.ModuleType] = {}
    try:
        yield team
    finally:
        team.update({k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] in names})
        sys.modules.update(saved)


def _repo_files(repo: Path, before: set[str], team: dict[str, types.ModuleType]) -> list[Path]:
    """The repository's module files this process imported: all under models/, and any other loaded since ``before``
    (``team``: the team's modules that share a name with the harness's, out of ``sys.modules`` by now)."""
    files = set()
    for name, module in [*sys.modules.items(), *team.items()]:
        file = getattr(module, "__file__", None)
        if not file or name == TEST_DEMO_MODULE:
            continue
        path = Path(file).resolve()
        if path.is_file() and path.is_relative_to(repo) and (
                path.is_relative_to(repo / "models") or name not in before):
            files.add(path)
    return sorted(files)


def _select(module: types.ModuleType, args: argparse.Namespace, device: torch.device, states: LoadedStates,
            team_id: int, repo: Path, branch: Branch) -> tuple[Any, Any, Any, Any]:
    """``select_model(args, device)``; a branch that builds nothing (``elif model_id == 1: pass``) is one line."""
    with states.recording():
        try:
            return module.select_model(args, device)
        except UnboundLocalError as err:
            frame = traceback.extract_tb(err.__traceback__)[-1]
            if frame.name != "select_model" or Path(frame.filename).resolve() != repo / "test_demo.py":
                raise
            unset = (re.findall(r"'(\w+)'", str(err)) or ["a name"])[0]
            raise HarnessError(f"select_model builds no model for team {team_id:02} (its branch, {branch.where}, "
                               f"leaves {unset} unset: UnboundLocalError at test_demo.py:{frame.lineno})") from None


def build_challenge(job: dict[str, Any], device: torch.device, opened: Opened, states: LoadedStates,
                    workdir: Path) -> Built:
    repo = Path(job["repo"]).resolve()
    branch: Branch = read_repository(repo).branches[job["team_id"]]
    isolate(repo, (job.get("env") or {}).get("site"))
    args = argparse.Namespace(model_id=job["team_id"], data_dir=job.get("data_dir") or "../",
                              save_dir=job["settings"].get("save_dir") or "../results",
                              include_test=job.get("include_test", False), ssim=job["settings"]["ssim"],
                              hybrid_test=False)
    with own_names(repo) as team_modules:
        phase("loading test_demo.py")
        opened.active = True  # its module-level imports (the repository's utils) are inputs too
        module, unbound = load_test_demo(repo)
        job["_unbound"] = unbound
        before = set(sys.modules)
        phase(f"building team {job['team_id']:02} with select_model ({branch.where})")
        model, name, data_range, tile = _select(module, args, device, states, job["team_id"], repo, branch)
    if not isinstance(model, torch.nn.Module):
        raise HarnessError(f"select_model builds no model for team {job['team_id']:02}: it returned "
                           f"{type(model).__name__} instead of a torch module")
    code = _repo_files(repo, before, team_modules)
    checkpoints = opened.under([repo], lambda p: p.suffix in (".py", ".pyc") or p == repo / "test_demo.py")
    branch_file = workdir / "select_model_branch.py"
    branch_file.write_text(branch.text)
    fallback = f"{job['team_id']:02}_team"
    sweep = {"source": "challenge", "repository": str(repo), "team_id": job["team_id"], "select_model": branch.where,
             "select_model_sha256": branch.sha256, "select_model_text": branch.text, "inputs": {},
             "tile": tile, "name_as_written": str(name), "team_forward": branch.forward}
    return Built(model, key_of(name, fallback), float(data_range), None if tile is None else int(tile),
                 checkpoints, [*code, branch_file], True, sweep,
                 None if branch.forward is None else getattr(module, branch.forward))


# --- this project's registry --------------------------------------------------------------------------------------


def build_registered(job: dict[str, Any], device: torch.device, opened: Opened) -> Built:
    """This project's registered team, or a network given as a file (``--model FILE:Class``, source ``file``)."""
    import models

    if job["source"] == "file":
        spec = models.file_spec(job["model"], data_range=job["data_range"], kwargs=job["kwargs"], name=job["label"],
                                year=job["year"])
        checkpoint = Path(job["checkpoint"]) if job.get("checkpoint") else None
        where = {"model": job["model"], "kwargs": job["kwargs"]}
    else:
        spec = models.get_spec(job["team_id"], job["year"])
        checkpoint = models.fetch_checkpoint(spec, Path(job["model_zoo"]), base_url=job.get("zoo_url"),
                                             offline=job.get("offline", False))
        where = {"model_zoo": str(Path(job["model_zoo"]).resolve())}
    phase(f"building {spec.display_name} ({spec.year}) with models.build_model")
    opened.active = True
    model = models.build_model(spec, checkpoint, device, trust_checkpoint=job.get("trust_checkpoint", False))
    code = [path.resolve() for path in spec.code()]
    checkpoints = [] if checkpoint is None else [Path(checkpoint).resolve()]
    sweep = {"source": job["source"], "team_id": spec.team_id, **where,
             "inputs": {str(p): sha256_of(p) for p in [*checkpoints, *code]}, "tile": None}
    return Built(model, spec.display_name, spec.data_range, None, checkpoints, code, checkpoint is not None, sweep)


# --- the job -----------------------------------------------------------------------------------------------------


def _splits(job: dict[str, Any]) -> list[Split]:
    return [Split(s["name"], tuple(ImagePair(n, Path(hr), Path(lr)) for n, hr, lr in s["pairs"]))
            for s in job["splits"]]


def build_baseline(job: dict[str, Any], year: int | None = None) -> Baseline:
    """The year's baseline (or ``year``'s: the reference network) on the CPU, built by this project's registry before
    a repository's ``models`` replaces it; moved to the team's device once the team's official runs are done."""
    import models

    year = job["year"] if year is None else year
    phase(f"building the {year} baseline to time beside the team")
    return load_baseline(year, torch.device("cpu"), Path(job.get("model_zoo") or models.spec.MODEL_ZOO),
                         base_url=job.get("zoo_url"), offline=job.get("offline", False),
                         trust_checkpoint=job.get("trust_checkpoint", False))


def _traced_inputs(job: dict[str, Any], opened: Opened, splits: list[Split], built: Built) -> dict[str, str]:
    """sha256 of every file the team's process opened under the repository and the data folders (its checkpoint,
    code, configs), less test_demo.py (its select_model branch stands for it) and the split images (digested)."""
    repo = Path(job["repo"]).resolve() if job.get("repo") else None
    images = {Path(p).resolve() for s in splits for pair in s.pairs for p in (pair.hr, pair.lr)}
    roots = [*([repo] if repo else []), *{Path(p).resolve().parent for p in images}]
    if job.get("data_dir"):
        roots.append(Path(job["data_dir"]))
    skip = {*images, *([repo / "test_demo.py"] if repo else [])}
    files = opened.under(roots, lambda p: p in skip) if repo else [*built.checkpoints, *built.code]
    return {name_under(p, repo): sha256_of(p) for p in files}


def _identity(job: dict[str, Any], opened: Opened, needs: list[str]) -> dict[str, Any]:
    """What a lasting failure ran on (``benchmark.organizer.lasting``); test_demo.py is its select_model branch's;
    the packages it lacked, with where they were looked for."""
    repo = Path(job["repo"]).resolve()
    roots = [repo, *([Path(job["data_dir"]).resolve()] if job.get("data_dir") else [])]
    return {"inputs": opened.tried(roots, repo, {repo / "test_demo.py"}), "missing": needs, "search_path": sys.path[:],
            "device_name": device_name(torch.device(job["device"])), "team_env": job.get("env")}


def run(job: dict[str, Any], loads: Loads, opened: Opened, workdir: Path) -> dict[str, Any]:
    """Build, check, measure and run one team; returns its complete entry (record and every split's keys)."""
    settings = Settings.from_dict(job["settings"], torch.device(job["device"]))
    if settings.gpu_memory is not None:  # before the team's code allocates anything, as test_demo.py does
        cap_gpu_memory(settings.device, settings.gpu_memory)
    splits = [] if job.get("profile_only") else _splits(job)
    baseline = build_baseline(job) if settings.vs_baseline and splits else None
    reference = build_baseline(job, settings.reference) if settings.reference is not None and splits else None
    states = LoadedStates()
    built = build_challenge(job, settings.device, opened, states, workdir) if job["source"] == "challenge" else \
        build_registered(job, settings.device, opened)
    if built.tile is not None and built.forward is None:  # the team's own forward gets the tile itself
        settings = replace(settings, tile=built.tile)
    phase(f"preflight of {built.name}")
    report, lines = output_findings(built.model, built.data_range, settings.device)
    findings = load_findings(states.calls) + lines
    for line in findings:
        print(f"{PHASE}note: preflight: {line}", flush=True)
    phase(f"measuring {built.name}'s complexity")
    figures = measure(built.model)
    sweep = {**built.sweep, "settings": settings.recorded(), "host": os.uname().nodename,
             "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
             "preflight": {"loads": states.calls, "output": report, "findings": findings},
             "profile_only": bool(job.get("profile_only")), "team_env": job.get("env"),
             "data": {s.name: split_digest((p.name, p.hr, p.lr) for p in s.pairs) for s in splits}}

    def on_image(split: str, run_index: int, result: ImageResult) -> None:
        print(image_line(split, run_index, result), flush=True)

    name = results_name(built.name, settings.backend, settings.precision)
    if splits:
        phase(f"running {name} on {', '.join(sp.name for sp in splits)} ({settings.runs} run(s))")
    dry = {"dry_run": True} if job.get("dry_run") else {}
    network = built.model if built.forward is None else TeamForward(built.model, built.forward, built.tile)
    measured = measure_and_record(network, figures, name=name, data_range=built.data_range, year=job["year"],
                                  checkpoints=built.checkpoints, code=built.code, splits=splits, settings=settings,
                                  scored=built.scored, extra={"sweep": sweep, **dry}, on_image=on_image,
                                  baseline=None if baseline is None else lambda: baseline.on(settings.device),
                                  reference=None if reference is None else lambda: reference.on(settings.device))
    sweep["inputs"] = _traced_inputs(job, opened, splits, built)
    repo = Path(job["repo"]).resolve() if job.get("repo") else Path("/")
    links = {name: os.path.realpath(repo / name) for name in sweep["inputs"]
             if os.path.realpath(repo / name) != os.path.normpath(repo / name)}
    if links:
        sweep["input_links"] = links  # reached through a symlink: the file it points at is what was read
    keys = {s: dry_keys(k, s) for s, k in measured.splits.items()} if dry else measured.splits
    phase(f"done: {name}")
    return {"ok": True, "name": measured.name, "record": measured.record, "splits": keys,
            "findings": findings}


def _become_subreaper() -> None:
    """Linux: orphans of the team's code (a child that called setsid and whose parent exited) stay below this
    process, where the sweep finds and kills them, instead of moving to init."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m benchmark.organizer.worker JOBFILE", file=sys.stderr)
        return 2
    _die_with_parent()
    _become_subreaper()
    faulthandler.enable()
    host.keep_freed_memory()
    job_file = Path(argv[0]).resolve()
    job = json.loads(job_file.read_text())
    output = Path(job["output"])
    opened = Opened()
    loads = Loads(job.get("trust_checkpoint", False), cpu=bool(job.get("dry_run")))
    try:
        with loads.recording(), cpu_only() if job.get("dry_run") else contextlib.nullcontext():
            outcome = run(job, loads, opened, output.parent)  # its own folder: the job's is not its to write
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # noqa: BLE001 - whatever the team's code raises (SystemExit included) ends this team only
        traceback.print_exc()
        reason, needs = explain(err, job, loads, _phase)
        outcome = {"ok": False, "reason": reason, "needs": needs}
        if job["source"] == "challenge" and opened.active and lasting(err):  # the team's own code had started
            opened.active = False
            outcome["identity"] = _identity(job, opened, needs)
        print(PHASE + "failed: " + reason, flush=True)
    finally:
        opened.active = False
        kill_processes(descendants(os.getpid()))  # nothing the team started outlives its worker
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(json.dumps(outcome, default=str))
    os.replace(tmp, output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
