"""One rule for every output folder the harness replaces (core.files.out_folder): only a folder the same command made
(its marker), judged after ``..`` and symlinks, never one that holds an input; checked before any work. The helper
once, then each command (site, compare --out/--site, prepare, sweep --site, speed --out) with the harm cases of
issue 25: ``T/new/../victim``, a symlink to a user's folder, a site rebuilt over its own results file, prepare over a
data set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import run_main

from benchmark import compare, prepare, site, speed, sweep
from benchmark.core.errors import HarnessError
from benchmark.core.files import MARKER, out_folder


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (symlinks not followed) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def victim(root: Path) -> Path:
    """A user's folder of their own files, which no command may empty."""
    folder = root / "victim"
    (folder / "notes").mkdir(parents=True)
    (folder / "thesis.tex").write_text("mine")
    (folder / "notes" / "a.txt").write_text("also mine")
    return folder


def results_2026(path: Path) -> Path:
    """A 2026 results file as the organizers publish one: the baseline and one other model."""
    def entry(runtime: float, psnr: float) -> dict:
        return {"valid_ave_runtime": runtime, "valid_ave_psnr": psnr, "valid_memory": 100.0, "num_parameters": 0.2,
                "flops": 10.0, "activations": 10.0, "num_conv": 20}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"00_SPAN": entry(10.0, 27.0), "01_Fast": entry(8.0, 26.95)}))
    return path


def refused(main, argv: list[object]) -> str:  # noqa: ANN001 - a command's main
    """The one error line of a refused command (exit status 2, nothing on stdout)."""
    code, out, err = run_main(main, [str(a) for a in argv])
    assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1, (code, out, err)
    return err.removeprefix("error: ").removesuffix("\n")


# --- the helper ----------------------------------------------------------------------------------------------------


def test_a_folder_of_the_same_command_is_replaced_and_every_other_refused(tmp_path: Path) -> None:
    new = out_folder(tmp_path / "a" / "b", "--out", "benchmark.site", "choose X")
    assert new.real == (tmp_path / "a" / "b").resolve() and not (tmp_path / "a").exists()  # checking writes nothing
    with new.building() as folder:
        (folder / "index.html").write_text("v1")
    assert (tmp_path / "a" / "b" / MARKER).read_text().startswith("benchmark.site\n")
    again = out_folder(tmp_path / "a" / "b", "--out", "benchmark.site", "choose X")
    with again.building() as folder:
        (folder / "other.html").write_text("v2")
    assert sorted(tree(tmp_path / "a" / "b")) == [MARKER, "other.html"]  # replaced whole: nothing stale
    with pytest.raises(HarnessError, match=r"was made by python -m benchmark.site \(it holds '.benchmark-output', "
                                           r"'other.html'\), not by python -m benchmark.prepare, so it is left "
                                           "as it is"):
        out_folder(tmp_path / "a" / "b", "--out", "benchmark.prepare", "choose X")
    (tmp_path / "empty").mkdir()
    assert out_folder(tmp_path / "empty", "--out", "benchmark.site", "choose X").real == tmp_path / "empty"


@pytest.mark.parametrize("kind", ["a FIFO", "a folder"])
def test_a_marker_that_is_no_file_is_no_marker_and_never_waited_on(tmp_path: Path, kind: str) -> None:
    """A FIFO at an output folder's marker held the atlas, the site, prepare and compare for ever, before any work."""
    (tmp_path / "out").mkdir()
    if kind == "a FIFO":
        os.mkfifo(tmp_path / "out" / MARKER)
    else:
        (tmp_path / "out" / MARKER).mkdir()
    with pytest.raises(HarnessError, match=r"holds '.benchmark-output', which python -m benchmark.site did not write"):
        out_folder(tmp_path / "out", "--out", "benchmark.site", "choose X")


def test_a_failed_build_leaves_the_folder_and_no_folder_it_made(tmp_path: Path) -> None:
    deep = out_folder(tmp_path / "a" / "b" / "c", "--out", "benchmark.site", "choose X")
    with pytest.raises(HarnessError, match=r"--out .*/c: cannot write \(No space left on device\); choose a writable"):
        with deep.building() as folder:
            (folder / "half.html").write_text("half")
            raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_changed_while_it_was_built_is_not_replaced(tmp_path: Path) -> None:
    out = out_folder(tmp_path / "new" / "site", "--out", "benchmark.site", "choose X")
    with pytest.raises(HarnessError, match="it changed while the new one was built"):
        with out.building() as folder:
            (folder / "index.html").write_text("new")
            (tmp_path / "new" / "site").mkdir()
            (tmp_path / "new" / "site" / "thesis.tex").write_text("mine")  # a user's file, put there meanwhile
    assert tree(tmp_path) == {"new/site/thesis.tex": b"mine"}  # and the folder made for the site, now theirs, kept


@pytest.mark.parametrize("how", ["dot-dot through a new folder", "symlink", "symlink to a parent"])
def test_paths_are_judged_where_they_lead(tmp_path: Path, how: str) -> None:
    user = victim(tmp_path)
    before = tree(user)
    if how == "dot-dot through a new folder":
        out = tmp_path / "new" / ".." / "victim"
    elif how == "symlink":
        out = tmp_path / "link"
        out.symlink_to(user)
    else:
        (tmp_path / "up").symlink_to(tmp_path)
        out = tmp_path / "up" / "victim"
    with pytest.raises(HarnessError) as refusal:
        out_folder(out, "--out", "benchmark.site", "choose a new or empty folder for the site")
    assert str(refusal.value) == (f"--out {out} (that is {user}): holds 'notes', 'thesis.tex', which python -m "
                                  "benchmark.site did not write, so it is left as it is; choose a new or empty folder "
                                  "for the site")
    assert tree(user) == before and not (tmp_path / "new").exists()


def test_inputs_inside_or_equal_to_the_output_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pub").mkdir()
    with pytest.raises(HarnessError, match=r"--out .*/pub: holds --results .*/pub/R.json, which replacing the folder "
                                           "would delete; choose a folder that does not hold it"):
        out_folder(tmp_path / "pub", "--out", "benchmark.site", "choose X", [("--results", tmp_path / "pub/R.json")])
    with pytest.raises(HarnessError, match=r"--site .*/x: the same path as --out .*/y/../x; give each a path of its "):
        out_folder(tmp_path / "x", "--site", "benchmark.site", "choose X", [("--out", tmp_path / "y" / ".." / "x")])
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(HarnessError, match="cannot be resolved"):
        out_folder(tmp_path / "loop" / "site", "--out", "benchmark.site", "choose X")


# --- each command -------------------------------------------------------------------------------------------------


def test_site_refuses_a_victim_and_its_own_results_file(tmp_path: Path) -> None:
    user = victim(tmp_path)
    results = results_2026(tmp_path / "R.json")
    before = tree(user)
    line = refused(site.main, ["--results", results, "--year", 2026, "--out", tmp_path / "T" / "new" / ".." / ".." /
                               "victim"])
    assert "holds 'notes', 'thesis.tex', which python -m benchmark.site did not write" in line
    assert tree(user) == before and not (tmp_path / "T").exists()
    pub = tmp_path / "pub"
    assert run_main(site.main, ["--results", str(results), "--year", "2026", "--out", str(pub)])[0] == 0
    os.replace(results, pub / "R.json")  # a results file kept in the site's folder, then the site rebuilt from it
    assert refused(site.main, ["--results", pub / "R.json", "--year", 2026, "--out", pub]) == (
        f"--out {pub}: holds --results {pub / 'R.json'}, which replacing the folder would delete; choose a folder that "
        "does not hold it")
    assert (pub / "R.json").is_file() and (pub / "index.html").is_file()
    rebuilt = run_main(site.main, ["--results", str(pub / "R.json"), "--year", "2026", "--out", str(tmp_path / "s2")])
    assert rebuilt[0] == 0


def test_compare_out_and_site_follow_the_rule(tmp_path: Path) -> None:
    user = victim(tmp_path)
    results = results_2026(tmp_path / "R.json")
    before = tree(user)
    line = refused(compare.main, ["--results", results, "--out", tmp_path / "T" / "new" / ".." / ".." / "victim"])
    assert line.startswith("--out ") and "which python -m benchmark.compare did not write" in line
    line = refused(compare.main, ["--results", results, "--out", tmp_path / "cmp", "--site", tmp_path / "link" / ".."
                                  / "victim"])
    assert line.startswith("--site ") and "which python -m benchmark.site did not write" in line
    assert tree(user) == before and not (tmp_path / "cmp").exists() and not (tmp_path / "link").exists()
    assert refused(compare.main, ["--results", results, "--out", tmp_path, "--site", tmp_path / "site"]).startswith(
        f"--out {tmp_path}: holds --results {results}")
    assert refused(compare.main, ["--results", results, "--out", tmp_path / "o", "--site", tmp_path / "o" / "s"]) == (
        f"--out {tmp_path / 'o'}: holds --site {tmp_path / 'o' / 's'}, which replacing the folder would delete; choose "
        "a folder that does not hold it")
    assert run_main(compare.main, ["--results", str(results), "--out", str(tmp_path / "o")])[0] == 0
    (tmp_path / "o" / "table1_old.tex").write_text("from an earlier run")  # stale beside fresh figures
    assert run_main(compare.main, ["--results", str(results), "--out", str(tmp_path / "o")])[0] == 0
    assert not (tmp_path / "o" / "table1_old.tex").exists() and (tmp_path / "o" / "leaderboard.csv").is_file()


def _data_set(folder: Path) -> Path:
    """A data set as one would have made it by other means: only HR/ and LR_bicubic/X4/."""
    rng = np.random.default_rng(1)
    (folder / "HR").mkdir(parents=True)
    (folder / "LR_bicubic" / "X4").mkdir(parents=True)
    cv2.imwrite(str(folder / "HR" / "a.png"), rng.integers(0, 256, (16, 16, 3), np.uint8))
    cv2.imwrite(str(folder / "LR_bicubic" / "X4" / "ax4.png"), rng.integers(0, 256, (4, 4, 3), np.uint8))
    return folder


@pytest.mark.parametrize("how", ["the data set", "dot-dot", "symlink"])
def test_prepare_never_replaces_a_data_set_it_did_not_make(tmp_path: Path, how: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    cv2.imwrite(str(src / "b.png"), np.zeros((16, 16, 3), np.uint8))
    data = _data_set(tmp_path / "Set")
    before = tree(data)
    out = {"the data set": data, "dot-dot": tmp_path / "new" / ".." / "Set", "symlink": tmp_path / "link"}[how]
    if how == "symlink":
        out.symlink_to(data)
    line = refused(prepare.main, ["--hr", src, "--out", out])
    assert line.startswith(f"--out {out}") and line.endswith(
        "holds 'HR', 'LR_bicubic', which python -m benchmark.prepare did not write, so it is left as it is; choose a "
        "new or empty folder for HR/ and LR_bicubic/")
    assert tree(data) == before and not (tmp_path / "new").exists()
    assert refused(prepare.main, ["--hr", src, "--out", src]).startswith(f"--out {src}: the same path as --hr {src}")


def test_sweep_site_that_holds_its_results_is_refused_before_any_team(tmp_path: Path) -> None:
    folder = tmp_path / "DIR"
    results = results_2026(tmp_path / "R.json")
    assert run_main(site.main, ["--results", str(results), "--year", "2026", "--out", str(folder)])[0] == 0
    (folder / "R.json").write_text("{}")
    (folder / "R.failures.json").write_text("{}")
    (folder / "R.sweep").mkdir()
    (folder / "R.sweep" / "03.log").write_text("a team's log")
    before = tree(folder)
    line = refused(sweep.main, ["--year", 2023, "--model_id", 0, "--profile-only", "--device", "cpu",
                                "--results", folder / "R.json", "--site", folder])
    assert line.startswith(f"--site {folder}: holds --results {folder / 'R.json'}")
    assert tree(folder) == before
    line = refused(sweep.main, ["--year", 2023, "--model_id", 0, "--profile-only", "--device", "cpu",
                                "--results", tmp_path / "R2.json", "--site", tmp_path / "R2.sweep"])
    assert line == (f"--site {tmp_path / 'R2.sweep'}: the same path as what is kept beside --results, "
                    f"{tmp_path / 'R2.sweep'}; give each a path of its own")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DIR", "R.json"]  # no results, lock or log made


@pytest.mark.parametrize("case", ["a folder", "json", "parent file", "json is a folder", "a FIFO", "a device",
                                  "a symlink loop", "a results file beside"])
def test_speed_checks_out_before_any_work(tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the matrix ran before --out was checked")

    monkeypatch.setattr(speed, "matrix", no_work)
    out = {"a folder": tmp_path, "json": tmp_path / "m.json", "parent file": tmp_path / "f" / "m.md",
           "json is a folder": tmp_path / "m.md", "a FIFO": tmp_path / "fifo.md", "a device": Path("/dev/full"),
           "a symlink loop": tmp_path / "loop.md", "a results file beside": tmp_path / "R.md"}[case]
    if case == "a FIFO":  # writing the report into it would wait for a reader for ever, after the whole matrix
        os.mkfifo(out)
    if case == "parent file":
        (tmp_path / "f").write_text("mine")
    if case == "json is a folder":
        (tmp_path / "m.json").mkdir()
    if case == "a symlink loop":  # each was found when the report was written, after the whole matrix
        out.symlink_to(out)
    if case == "a results file beside":  # was replaced by the report's JSON
        (tmp_path / "R.json").write_text('{"00_SPAN": {"Set5_ave_psnr": 30.0}}')
    expected = {"a folder": f"--out {tmp_path}: a folder, not a file; pass the Markdown file to write",
                "json": f"--out {out}: the JSON beside the report would be the report itself",
                "parent file": f"--out {out}: {tmp_path / 'f'} is a file, not a folder",
                "json is a folder": f"--out {tmp_path / 'm.json'}: a folder, not a file",
                "a FIFO": f"--out {out}: not a regular file (a FIFO, socket or device)",
                "a device": "--out /dev/full: not a regular file (a FIFO, socket or device)",
                "a symlink loop": f"--out {out}: a symlink loop",
                "a results file beside": f"--out {out}: {tmp_path / 'R.json'} is there and is no speed report's "
                                         "JSON (a results file?)"}[case]
    assert refused(speed.main, ["--matrix", "--out", out, "--device", "cpu"]).startswith(expected)
    if case == "a results file beside":
        assert json.loads((tmp_path / "R.json").read_text()) == {"00_SPAN": {"Set5_ave_psnr": 30.0}}
        (tmp_path / "R.json").write_text('{"environment": {"torch": "2.13.0"}, "rows": []}')  # a report of its own
        speed.check_out(out, sweep=False)


def test_a_speed_report_that_cannot_be_written_after_the_work_is_one_line(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A place that passes the checks but refuses the file once the matrix is done (/proc takes no new file) is one
    line saying the printed tables are the figures, not an OSError traceback."""
    monkeypatch.setattr(speed, "run_matrix", lambda args, console: speed.write_report(args.out, "# m\n", "{}"))
    line = refused(speed.main, ["--matrix", "--out", "/proc/m.md", "--device", "cpu"])
    assert line == ("--out /proc/m.md: cannot be written (No such file or directory); the tables above are the run's "
                    "figures; choose a writable path and run again")


def test_atlas_out_is_new_empty_or_its_own_and_its_site_holds_no_input(tmp_path: Path) -> None:
    """The atlas adds to ``--out`` build after build (its sweeps resume there): a folder of a user's files, reached
    directly, through ``..`` or a symlink, is never written into; a folder an atlas marked is. ``--site`` is replaced
    whole, so it may not hold the ``--model`` file or its checkpoint."""
    from benchmark.atlas.__main__ import main as atlas_main

    user = victim(tmp_path)
    before = tree(user)
    (tmp_path / "link").symlink_to(user)
    nowhere = tmp_path / "nowhere"  # no repository there: a run that passes the checks stops on it, naming it
    for out in (user, tmp_path / "T" / "new" / ".." / ".." / "victim", tmp_path / "link"):
        line = refused(atlas_main, ["--challenge-repo", nowhere, "--profile-only", "--out", out])
        assert line.startswith(f"--out {out}") and "holds 'notes', 'thesis.tex', which python -m benchmark.atlas " \
            "did not write" in line, line
    assert tree(user) == before and not (tmp_path / "T").exists()
    line = refused(atlas_main, ["--challenge-repo", nowhere, "--profile-only", "--out", tmp_path / "file" / "x"])
    assert not (tmp_path / "file").exists() and "nowhere" in line  # new: accepted (and nothing made before the sweeps)
    ours = tmp_path / "atlas"
    out_folder(ours, "--out", "benchmark.atlas", "choose X").kept()
    (ours / "atlas.json").write_text("{}")
    assert (ours / MARKER).read_text().startswith("benchmark.atlas\n")
    assert "nowhere" in refused(atlas_main, ["--challenge-repo", nowhere, "--profile-only", "--out", ours])
    data = tmp_path / "data"  # its sweeps' files written into what it reads (a run that passes stops on nowhere)
    (tmp_path / "to-repo").symlink_to(nowhere)
    for out, flags, label in ((nowhere / "atlas", [], "--challenge-repo"), (tmp_path / "to-repo" / "a" / "b", [],
                              "--challenge-repo"), (data / "HR" / "atlas", ["--dataset", data], "--dataset")):
        line = refused(atlas_main, ["--challenge-repo", nowhere, "--out", out, *(flags or ["--profile-only"])])
        assert line.startswith(f"--out {out}: in {label} ") and "which the atlas reads" in line, line
    assert not nowhere.exists() and not data.exists()
    (tmp_path / "by-site").mkdir()
    (tmp_path / "by-site" / MARKER).write_text("benchmark.site\n")
    line = refused(atlas_main, ["--challenge-repo", nowhere, "--profile-only", "--out", tmp_path / "by-site"])
    assert line.endswith("not by python -m benchmark.atlas, so it is left as it is; choose a new or empty folder for "
                         "the atlas"), line  # no hint to mark another command's folder as an atlas's
    site_folder = tmp_path / "site"
    results = results_2026(tmp_path / "R.json")
    assert run_main(site.main, ["--results", str(results), "--year", "2026", "--out", str(site_folder)])[0] == 0
    (site_folder / "arch.py").write_text("from torch import nn\n\n\nclass Net(nn.Module):\n    pass\n")
    (site_folder / "w.pth").write_text("weights")
    (tmp_path / "arch.py").write_text((site_folder / "arch.py").read_text())
    before = tree(site_folder)
    for flags, label in ((["--model", f"{site_folder / 'arch.py'}:Net"], "--model"),
                         (["--model", f"{tmp_path / 'arch.py'}:Net", "--checkpoint", site_folder / "w.pth"],
                          "--checkpoint")):
        line = refused(atlas_main, ["--challenge-repo", nowhere, "--profile-only", "--out", ours, "--site",
                                    site_folder, *flags])
        assert line.startswith(f"--site {site_folder}: holds {label} ") and "would delete" in line, line
    assert tree(site_folder) == before
