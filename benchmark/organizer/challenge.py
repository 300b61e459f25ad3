"""A challenge repository as its organizers have it, read in place: its teams, their ``select_model`` branches,
its year.

Every official NTIRE ESR repository (2023–2026) builds a team in ``test_demo.py``'s
``select_model(args, device) -> (model, name, data_range, tile)``: one ``if``/``elif model_id == N``
branch per team. The team ids are read from that function with :mod:`ast` (nothing is imported
or run here), and each branch's text is kept: with the statements every branch shares, it is part
of what a team's figures were measured with, so a changed branch makes that team run again. A
team that the repository's ``run`` forwards through a function of its own (``forward_team34``)
is run through that function too.

The repository is never copied and never written to; what its team code does when it runs is
another matter (see ``benchmark.organizer.worker``).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import HarnessError
from benchmark.core.years import YEARS

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".pkl", ".safetensors", ".bin", ".tar")
_YEAR = re.compile(r"NTIRE[\s_-]?(20\d\d)", re.IGNORECASE)


@dataclass(frozen=True)
class Branch:
    """One team's part of ``select_model``."""

    team_id: int
    first_line: int
    last_line: int
    text: str
    """The team's own branch (its ``if``/``elif`` line and body), then the statements all branches share."""
    checkpoints: tuple[str, ...]
    """Checkpoint paths the branch spells out (``model_zoo/team05_x.pth``), relative to the repository."""
    forward: str | None = None
    """The test_demo.py function that the repository's ``run`` calls for this team in place of ``forward`` (2024's
    ``forward_team34`` pads the input to its window size); its source ends ``text``, so it is part of the identity."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def where(self) -> str:
        return f"test_demo.py:{self.first_line}-{self.last_line}"


@dataclass(frozen=True)
class Repository:
    root: Path
    year: int | None
    """The year the repository states (``NTIRE2026`` in its test_demo.py's code, its README or folder name), if any."""
    year_source: str
    """Where ``year`` was read, for the sweep's first line (``test_demo.py's code (NTIRE2026 ×3)``)."""
    branches: dict[int, Branch]
    """Team id → its branch, in id order."""

    @property
    def test_demo(self) -> Path:
        return self.root / "test_demo.py"

    @property
    def team_ids(self) -> list[int]:
        return list(self.branches)


def _is_model_id(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "model_id") or (
        isinstance(node, ast.Attribute) and node.attr == "model_id")


def _int(node: ast.AST) -> int | None:
    """An integer literal, signed ones included (``-1`` is a unary minus on 1 in the tree)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _int(node.operand)
        return None if value is None else -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    return None


def _range(node: ast.AST) -> list[int] | None:
    """The ids of ``range(a[, b[, step]])`` with constant arguments (a team chain's ``model_id in range(20, 23)``)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
            and not node.keywords and 1 <= len(node.args) <= 3):
        return None
    bounds = [_int(a) for a in node.args]
    if None in bounds or (len(bounds) == 3 and bounds[2] == 0):
        return None
    values = range(*bounds)
    return list(values) if len(values) <= 1000 else None


def compared_ids(node: ast.AST) -> list[int]:
    """The N of every ``model_id == N`` (either side; also ``model_id in (N, M)`` and ``model_id in range(a, b)``)
    inside ``node``."""
    ids: list[int] = []
    for compare in (n for n in ast.walk(node) if isinstance(n, ast.Compare)):
        operands = [compare.left, *compare.comparators]
        for op, left, right in zip(compare.ops, operands, operands[1:], strict=False):
            if isinstance(op, ast.Eq):
                for a, b in ((left, right), (right, left)):
                    if _is_model_id(a) and _int(b) is not None:
                        ids.append(_int(b))
            elif isinstance(op, ast.In) and _is_model_id(left) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
                ids += [v for v in map(_int, right.elts) if v is not None]
            elif isinstance(op, ast.In) and _is_model_id(left) and _range(right) is not None:
                ids += _range(right)
    return ids


def _case_ids(pattern: ast.pattern) -> list[int]:
    """The ids of a ``case`` of ``match model_id`` (``case 5:``, ``case -1:``, ``case 5 | 6:``)."""
    if isinstance(pattern, ast.MatchValue) and _int(pattern.value) is not None:
        return [_int(pattern.value)]
    if isinstance(pattern, ast.MatchOr):
        return [i for p in pattern.patterns for i in _case_ids(p)]
    return []


def _string_value(node: ast.AST, team_id: int) -> str | None:
    """A string expression of the branch evaluated where it can be statically: constants, f-strings of
    ``model_id``, ``+`` and ``os.path.join``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue) and _is_model_id(value.value):
                spec = _string_value(value.format_spec, team_id) if value.format_spec else ""
                if spec is None:
                    return None
                parts.append(format(team_id, spec))
            else:
                part = _string_value(value, team_id)
                if part is None:
                    return None
                parts.append(part)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string_value(node.left, team_id), _string_value(node.right, team_id)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        if name == "join" and node.args and not node.keywords:
            parts = [_string_value(a, team_id) for a in node.args]
            return None if None in parts else os.path.join(*parts)
    return None


def _checkpoints(nodes: list[ast.AST], team_id: int) -> tuple[str, ...]:
    found: list[str] = []
    walked = [n for top in nodes for n in ast.walk(top)]
    parts = {id(v) for n in walked if isinstance(n, ast.JoinedStr) for v in n.values}  # pieces of an f-string
    for node in walked:
        if id(node) in parts:
            continue
        value = _string_value(node, team_id)
        if value and value.lower().endswith(CHECKPOINT_SUFFIXES):
            found.append(os.path.normpath(value))
    longest = [p for p in dict.fromkeys(found) if not any(o != p and o.endswith(os.sep + p) for o in found)]
    return tuple(longest)


def _select_model(tree: ast.Module) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "select_model":
            return node
    return None


def _team_forwards(tree: ast.Module) -> dict[int, ast.FunctionDef]:
    """Team id → the top-level function that ``run`` calls for it under ``if args.model_id == N:``
    (``img_sr = forward_team34(img_lr, model, tile)``), the way the organizers ran that team."""
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    found: dict[int, ast.FunctionDef] = {}
    for node in ast.walk(functions["run"]) if "run" in functions else ():
        if not isinstance(node, ast.If):
            continue
        calls = [n.value.func.id for n in node.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                 and isinstance(n.value.func, ast.Name) and n.value.func.id in functions]
        for team_id in compared_ids(node.test) if calls else ():
            found.setdefault(team_id, functions[calls[0]])
    return found


def read_repository(path: str | Path) -> Repository:
    """The repository's teams from its ``test_demo.py``; a HarnessError (one line) when it is not one."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise HarnessError(f"--challenge-repo {path}: no such folder; pass the challenge repository "
                           "(with test_demo.py)")
    root = root.resolve()
    test_demo = root / "test_demo.py"
    try:
        source = test_demo.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise HarnessError(f"{root}: no test_demo.py; --challenge-repo is the folder of an official challenge "
                           "repository (test_demo.py with select_model)") from None
    except OSError as err:
        raise HarnessError(f"{test_demo}: cannot be read ({err.strerror})") from None
    try:
        tree = ast.parse(source, filename=str(test_demo))
    except SyntaxError as err:
        raise HarnessError(f"{test_demo}:{err.lineno}: not valid Python ({err.msg})") from None
    function = _select_model(tree)
    if function is None:
        raise HarnessError(f"{test_demo}: no select_model function at the top level; this is not a challenge "
                           "repository's test_demo.py")
    lines = source.splitlines()
    ranges: dict[int, tuple[int, int, list[ast.AST]]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.If):
            for team_id in compared_ids(node.test):
                last = node.body[-1].end_lineno or node.lineno
                ranges.setdefault(team_id, (node.lineno, last, [node.test, *node.body]))
        elif isinstance(node, ast.Match) and _is_model_id(node.subject):
            for case in node.cases:
                for team_id in _case_ids(case.pattern):
                    last = case.body[-1].end_lineno or case.pattern.lineno
                    ranges.setdefault(team_id, (case.pattern.lineno, last, list(case.body)))
    for team_id in compared_ids(function):  # compared outside any if: the whole function is the branch
        ranges.setdefault(team_id, (function.lineno, function.end_lineno or function.lineno, [function]))
    if not ranges:
        raise HarnessError(f"{test_demo}: select_model compares model_id with no team id (no `model_id == N`)")
    owned = {n for first, last, _ in ranges.values() if (first, last) != (function.lineno, function.end_lineno)
             for n in range(first, last + 1)}
    shared = "\n".join(lines[n - 1] for n in range(function.lineno, (function.end_lineno or function.lineno) + 1)
                       if n not in owned)
    branches = {}
    forwards = _team_forwards(tree)
    for team_id in sorted(ranges):
        first, last, nodes = ranges[team_id]
        text = "\n".join(lines[first - 1:last]) + f"\n# shared by every branch:\n{shared}\n"
        forward = forwards.get(team_id)
        if forward is not None:
            text += f"# run calls, for this team:\n{ast.get_source_segment(source, forward)}\n"
        branches[team_id] = Branch(team_id, first, last, text, _checkpoints(nodes, team_id),
                                   None if forward is None else forward.name)
    return Repository(root, *repository_year(root, tree, source), branches)


def _code_strings(tree: ast.Module) -> str:
    """Every string constant of the code (the logger's ``"NTIRE2026-EfficientSR"``, argparse's name), comments left
    out: a comment copied from last year's repository states nothing."""
    return "\n".join(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str))


def repository_year(root: Path, tree: ast.Module, test_demo_source: str) -> tuple[int | None, str]:
    """The challenge year the repository states, and where: in test_demo.py's code, else its README, else its folder
    name, else (last, and said so) a comment of test_demo.py."""
    readme = next((p for p in (root / "README.md", root / "README.rst", root / "README") if p.is_file()), None)
    texts = [("test_demo.py's code", _code_strings(tree))]
    if readme is not None:
        texts.append((readme.name, readme.read_text(encoding="utf-8", errors="replace")))
    texts += [("the folder name", root.name), ("only a comment of test_demo.py", test_demo_source)]
    for where, text in texts:
        years = Counter(int(y) for y in _YEAR.findall(text))
        if years:
            year, count = years.most_common(1)[0]
            return year, f"{where} (NTIRE{year} ×{count})"
    return None, "nowhere"


def namespace_folders(root: Path) -> list[str]:
    """Top-level folders of the repository holding Python files but no ``__init__.py`` (``models``, ``utils``):
    namespace packages, which any regular package of the same name elsewhere on ``sys.path`` would shadow."""
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isidentifier()):
        if not (folder / "__init__.py").exists() and any(folder.glob("*.py")):
            found.append(folder.name)
    return found


def missing_imports(path: Path, local: set[str] = frozenset()) -> list[str]:
    """Top-level packages that ``path`` imports at module level and that cannot be found here, in file order."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return []
    names: list[str] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                names.extend(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module.split(".")[0])
            elif isinstance(node, (ast.If, ast.Try)):  # module-level conditional imports
                for block in (getattr(node, "body", []), getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                    visit(block)

    visit(tree.body)
    missing = []
    for name in dict.fromkeys(names):
        if name in local:
            continue
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):
            missing.append(name)
    return missing


def known_year(year: int | None, root: Path) -> int:
    """The repository's year, checked against the years the harness knows."""
    if year is None:
        raise HarnessError(f"{root}: the repository names no challenge year (no NTIRE20YY in its test_demo.py, "
                           f"folder name or README); pass --year with one of {', '.join(map(str, YEARS))}")
    if year not in YEARS:
        raise HarnessError(f"{root}: names NTIRE {year}, a year the harness does not know; pass --year with one of "
                           f"{', '.join(map(str, YEARS))}")
    return year
