"""The results file: official keys, merging per model, atomic writes, locking, corrupt files, results.txt."""

from __future__ import annotations

import contextlib
import io
import json
import math
import multiprocessing
import os
import stat
import tempfile
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmark import compare, submit
from benchmark.core.errors import HarnessError
from benchmark.core.files import companion, sha256_of
from benchmark.measure.loop import ImageResult, SplitResult
from benchmark.record.entry import complexity_entry, runtime_stats, split_entry
from benchmark.record.store import ResultsWarning, read_results, update_results
from benchmark.report.results_txt import write_results_txt


def _split(name: str = "valid", ssim: bool = True, times: tuple[float, ...] = (10.0, 20.0, 60.0),
           memory: float = 123.5) -> SplitResult:
    def scores(psnr: float, value: float) -> dict[str, float]:
        return {"psnr": psnr, "ssim": value} if ssim else {"psnr": psnr}

    images = [ImageResult("0801", times[0], scores(30.0, 0.8)),
              ImageResult("0802", times[1], scores(28.0, 0.7), tiled=True),
              ImageResult("0803", times[2], scores(29.0, 0.9))]
    return SplitResult(name, images, memory_mib=memory, memory_kind="cuda_max_memory_allocated", wall_seconds=0.1,
                       clock="cuda_events")


def test_split_entry_has_the_official_keys_and_units() -> None:
    entry = split_entry([_split()], official_memory=200.0, repeat=1)
    assert entry["valid_runtime"] == [10.0, 20.0, 60.0]
    assert entry["valid_psnr"] == [30.0, 28.0, 29.0]
    assert entry["valid_ave_psnr"] == 29.0
    assert entry["valid_ave_ssim"] == pytest.approx(0.8)
    assert entry["valid_ave_runtime"] == 30.0
    assert entry["valid_memory"] == 200.0  # the official, never-reset figure
    assert entry["valid_peak_memory"] == 123.5  # the split's own
    assert entry["valid_images"] == ["0801", "0802", "0803"]
    assert entry["valid_tiled"] == ["0802"]
    assert entry["valid_forward_seconds"] == pytest.approx(0.09)
    stats = entry["valid_runtime_stats"]
    assert (stats["mean"], stats["median"], stats["first"], stats["mean_without_first"]) == (30.0, 20.0, 10.0, 40.0)
    assert stats["std"] == pytest.approx(math.sqrt(((20**2) + (10**2) + (30**2)) / 3))
    assert "valid_psnr_y" not in entry
    assert entry["valid_saved"] is None


def test_repeated_runs_average_each_image_and_keep_every_run_mean() -> None:
    runs = [_split(times=(30.0, 20.0, 40.0), memory=100.0), _split(times=(10.0, 20.0, 30.0), memory=110.0),
            _split(times=(11.0, 21.0, 31.0), memory=90.0)]
    entry = split_entry(runs, official_memory=110.0, repeat=1)
    assert entry["valid_runtime"] == pytest.approx([17.0, 20.333333333333332, 33.666666666666664])
    assert entry["valid_runs_ave_runtime"] == [30.0, 20.0, 21.0]
    assert entry["valid_ave_runtime"] == pytest.approx(71.0 / 3)  # the mean of the run means
    assert entry["valid_ave_runtime"] == pytest.approx(sum(entry["valid_runtime"]) / 3)
    assert entry["valid_peak_memory"] == 110.0
    assert entry["valid_runtime_stats"]["runs"] == 3


def test_ssim_keys_only_when_measured() -> None:
    entry = split_entry([_split(ssim=False)], official_memory=1.0, repeat=1)
    assert "valid_ssim" not in entry and "valid_ave_ssim" not in entry


def test_runtime_stats_of_one_image() -> None:
    stats = runtime_stats([5.0])
    assert stats["mean"] == stats["median"] == stats["first"] == 5.0 and stats["std"] == 0.0
    assert stats["mean_without_first"] is None


FIGURES = {"input_shape": [3, 256, 256], "params": 244558, "flops": 15365898240, "activations": 422903808,
           "conv": 158, "fvcore_flops": 16986144768, "ptflops_macs": 2,
           "unseen": [{"op": "aten.convolution", "module": "model (X)", "calls": 2, "macs": 10, "elements": 6},
                      {"op": "aten.add", "module": "model (X)", "calls": 1, "macs": 0, "elements": 6}]}


def test_complexity_entry_uses_official_units_and_the_years_figure_of_record() -> None:
    entry = complexity_entry(FIGURES, "hooks")
    assert (entry["num_parameters"], entry["flops"], entry["activations"], entry["num_conv"]) == (
        0.244558, 15.36589824, 422.903808, 158)
    assert entry["flops_counter"] == "hooks"
    assert entry["complexity"]["params"] == 244558
    assert [u["op"] for u in entry["complexity"]["unseen"]] == ["aten.convolution"]
    fvcore = complexity_entry(FIGURES, "fvcore")
    assert (fvcore["flops"], fvcore["flops_counter"]) == (16.986144768, "fvcore")
    assert fvcore["complexity"]["flops"] == 15365898240  # the hook figure stays beside it


def test_update_merges_one_model_and_leaves_the_others(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    update_results(path, "00_RFDN_baseline", {"flops": 27.1}, {"valid": {"valid_ave_psnr": 29.04}})
    update_results(path, "05_SRneXt", {}, {"valid": {"valid_ave_psnr": 29.02}})
    update_results(path, "00_RFDN_baseline", {"flops": 27.1}, {"test": {"test_ave_psnr": 27.11}})
    assert read_results(path) == {
        "00_RFDN_baseline": {"valid_ave_psnr": 29.04, "flops": 27.1, "test_ave_psnr": 27.11, "splits": ["valid", "test"]},
        "05_SRneXt": {"valid_ave_psnr": 29.02, "splits": ["valid"]}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.json.lock"]


def _record(sha: str | None, device: str = "AMD EPYC") -> dict:
    return {"checkpoint": None if sha is None else {"path": "x.pth", "sha256": sha}, "variant": "faithful",
            "year": 2023, "harness_version": "1", "code_sha256": "c", "environment": {"device_name": device}}


def test_a_run_with_another_identity_replaces_the_record_and_keeps_the_old_one_aside(tmp_path: Path) -> None:
    path = tmp_path / "R.json"
    demo = {"demo_ave_runtime": 900.0, "demo_runtime": [900.0], "demo_images": ["a"]}
    update_results(path, "05_SRneXt", _record(None), {"demo": demo})  # timing only: no checkpoint
    update = update_results(path, "05_SRneXt", _record("abc"), {"Set5": {"Set5_ave_runtime": 70.0}})
    assert update.replaced == ["demo"] and update.changed == ["checkpoint_sha256"]
    assert update.aside == tmp_path / "R.superseded.json"
    entry = read_results(path)["05_SRneXt"]
    assert entry["splits"] == ["Set5"] and not any(k.startswith("demo_") for k in entry)
    (kept,) = json.loads(update.aside.read_text())
    assert kept["model"] == "05_SRneXt" and kept["entry"]["demo_ave_runtime"] == 900.0
    assert "checkpoint_sha256" in kept["reason"]
    again = update_results(path, "05_SRneXt", _record("abc", device="another CPU"), {})
    assert again.changed == ["device_name"] and again.replaced == ["Set5"]
    assert len(json.loads(update.aside.read_text())) == 2  # appended, nothing lost


def test_rerunning_a_split_replaces_all_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "R.json"
    first = split_entry([_split()], official_memory=1.0, repeat=1)
    update_results(path, "m", _record("abc"), {"valid": first})
    again = split_entry([_split(ssim=False)], official_memory=1.0, repeat=1)
    update_results(path, "m", _record("abc"), {"valid": again})
    entry = read_results(path)["m"]
    assert "valid_ssim" not in entry and "valid_ave_ssim" not in entry  # no stale SSIM beside the new PSNR
    assert entry["valid_psnr"] == [30.0, 28.0, 29.0]


def test_no_nan_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "R.json"
    update_results(path, "m", {"x": float("nan"), "y": [1.0, float("inf")]}, {})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert read_results(path)["m"]["x"] is None and read_results(path)["m"]["y"] == [1.0, None]


def test_a_symlinked_file_updates_its_target_and_modes_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "real" / "R.json"
    target.parent.mkdir()
    update_results(target, "a", {"x": 1}, {})
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # a new file gets the umask's mode
    target.chmod(0o640)
    link = tmp_path / "R.json"
    link.symlink_to(target)
    update_results(link, "b", {"x": 2}, {})
    assert link.is_symlink() and set(read_results(target)) == {"a", "b"}
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_malformed_entry_is_set_aside_alone(tmp_path: Path) -> None:
    path = tmp_path / "R.json"
    path.write_text(json.dumps({"good": {"x": 1}, "bad": [1, 2]}))
    with pytest.warns(ResultsWarning, match="left out"):
        assert read_results(path) == {"good": {"x": 1}}
    with pytest.warns(ResultsWarning, match="malformed entries 'bad' moved to"):
        update_results(path, "new", {"x": 2}, {})
    assert set(read_results(path)) == {"good", "new"}
    assert json.loads((tmp_path / "R.superseded.json").read_text())[0]["entry"] == [1, 2]


def test_deeply_nested_json_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "R.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(HarnessError, match="R.json: not a valid results file \\(nested too deeply\\)"):
        read_results(path)


def test_companion_files_are_named_after_the_results_file() -> None:
    assert companion("out/R.json", ".txt") == Path("out/R.txt")
    assert companion("results/results.json", ".log") == Path("results/results.log")


def test_corrupt_file_is_kept_aside_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"00_RFDN_baseline": {"valid_ave_psnr": 29.0')  # truncated by a crash
    with pytest.warns(ResultsWarning, match="could not be parsed; kept it as"):
        update_results(path, "05_SRneXt", {"valid_ave_psnr": 29.02})
    (aside,) = tmp_path.glob("results.json.corrupt-*")
    assert aside.read_text().startswith('{"00_RFDN_baseline"')
    assert read_results(path) == {"05_SRneXt": {"valid_ave_psnr": 29.02, "splits": []}}


def test_read_results_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="results.json: results file not found"):
        read_results(tmp_path / "results.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(HarnessError, match="bad.json: expected a JSON object"):
        read_results(tmp_path / "bad.json")


def _writer(path: str, prefix: str, count: int) -> None:
    for i in range(count):
        update_results(path, f"{prefix}{i:02}", {"valid_ave_psnr": float(i)})


def test_concurrent_writers_all_land(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), prefix, 25)) for prefix in ("a", "b", "c")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert len(read_results(path)) == 75


def test_results_txt_official_layout_and_mixed_entries(tmp_path: Path) -> None:
    results = {
        "00_RFDN_baseline": {"valid_ave_psnr": 29.04, "test_ave_psnr": 27.11, "valid_ave_runtime": 42.41,
                             "test_ave_runtime": 28.66, "valid_memory": 788.13, "test_memory": 700.0,
                             "num_parameters": 0.433448, "flops": 27.10262256, "flops_counter": "hooks",
                             "activations": 112.03424, "num_conv": 64},
        "05_SRneXt": {"valid_ave_runtime": 331.55, "num_conv": 158},  # no checkpoint, no test split
        "07_Other": {"Set5_ave_psnr": 30.1, "Set5_ave_runtime": 5.0},
    }
    write_results_txt(results, tmp_path / "results.txt")
    lines = [line.split("\t") for line in (tmp_path / "results.txt").read_text().splitlines()]
    assert lines[0] == ["model", "valid_psnr", "test_psnr", "Set5_psnr", "valid_time", "test_time", "Set5_time",
                        "ave_time", "params", "flops", "flops_counter", "acts", "mem", "conv"]
    assert lines[1] == ["00_RFDN_baseline", "29.04", "27.11", "n/a", "42.41", "28.66", "n/a", "35.53", "0.433",
                        "27.10", "hooks", "112.03", "788.13", "64"]
    assert lines[2][0] == "05_SRneXt" and lines[2][4] == "331.55" and lines[2][7] == "n/a" and lines[2][-1] == "158"
    assert lines[3][:4] == ["07_Other", "n/a", "n/a", "30.10"]
    assert json.dumps(results)  # the input is left untouched and serialisable


# --- any results file through the tools that read it: exit 0, or exit 2 with one error line and nothing written -

ODD_NAMES = ["00_base", "fast", "009_RFDN_SPAN", " 11_VSCINet", "a b", "[red]x[/red]", "a[b]", "[/]", "ü名🙂", "",
             "   ", "x\ny", "../up", "a/b", "$x^^$", "-x", "a|b", "tab\tname", "\ud800x"]
BAD_VALUES = [None, math.nan, math.inf, -math.inf, -1.0, 0, "12", True, [1], {"a": 1}, 10**400]
SPLIT_KEYS = ("ave_runtime", "ave_psnr", "memory", "images", "saved")
ENTRY_KEYS = ("num_parameters", "flops", "activations", "num_conv", "complexity", "environment", "checkpoint",
              "splits", "flops_counter", "year")
STEMS = ["img0", "img1"]


def _valid_entry(draw: st.DrawFn, splits: list[str], saved: dict | None) -> dict:
    figure = st.floats(min_value=0.01, max_value=1e3, allow_nan=False, allow_infinity=False)
    entry = {"num_parameters": draw(figure), "flops": draw(figure), "activations": draw(figure),
             "num_conv": draw(st.integers(1, 500)), "checkpoint": "x.pth", "splits": splits,
             "environment": {"device": draw(st.sampled_from(["cpu", "cuda:0"])), "device_name": "Test"}}
    if draw(st.booleans()):
        entry["complexity"] = {"flops": round(entry["flops"] * 1e9), "fvcore_flops": round(entry["flops"] * 9e8)}
    for split in splits:
        entry.update({f"{split}_ave_runtime": draw(figure), f"{split}_memory": draw(figure),
                      f"{split}_ave_psnr": draw(st.floats(20, 35)), f"{split}_images": list(STEMS),
                      f"{split}_saved": saved})
    return entry


@st.composite
def results_files(draw: st.DrawFn, saved: dict | None = None) -> dict:
    """A results file: one to three entries, valid or with keys dropped or given a wrong type, null, NaN, an
    infinity, a negative or huge number, odd names; now and then an entry that is not an object at all."""
    splits = draw(st.sampled_from([["valid", "test"], ["valid"], ["tiny"]]))
    names = draw(st.lists(st.one_of(st.sampled_from(ODD_NAMES), st.text(max_size=6)), min_size=1, max_size=3,
                          unique=True))
    results: dict = {}
    for name in names:
        if draw(st.integers(0, 20)) == 0:
            results[name] = draw(st.sampled_from([None, 3, "entry", [1, 2]]))
            continue
        entry = _valid_entry(draw, splits, saved)
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
            key = draw(st.sampled_from([f"{s}_{k}" for s in splits for k in SPLIT_KEYS] + list(ENTRY_KEYS)
                                       + ["complexity.flops", "complexity.fvcore_flops", "environment.device"]))
            *parents, last = key.split(".")
            target = entry
            for part in parents:
                target = target.get(part) if isinstance(target, dict) else None
            if not isinstance(target, dict):
                continue
            if draw(st.booleans()):
                target.pop(last, None)
            else:
                target[last] = draw(st.one_of(st.sampled_from(BAD_VALUES),
                                              st.lists(st.sampled_from(["img0", "../x", "", "/abs", 3]), max_size=3)))
        results[name] = entry
    return results


def _outcome(run, out: Path) -> tuple[int, str, str, list]:
    """Run a tool's ``main``: exit status, stdout, stderr, and the warnings it raised."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):
        warnings.simplefilter("always")
        try:
            code = run()
        except SystemExit as exit_:  # an argparse mistake, e.g. a name taken for an option
            code = exit_.code
    return code, stdout.getvalue(), stderr.getvalue(), [str(w.message) for w in caught]


def _assert_one_line_or_success(code: int, out: str, err: str, caught: list, written: Path,
                                before: dict[str, bytes]) -> None:
    assert not caught, caught
    if code == 0:
        assert err == "", err
        return
    assert code == 2, (code, err)
    assert err.startswith("error: ") and err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    now = {str(p.relative_to(written)): p.read_bytes() for p in written.rglob("*") if p.is_file()} \
        if written.exists() else {}
    assert now == before, f"a failed run changed {written}"


_FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_FAST
@given(results=results_files(), year=st.sampled_from([2023, 2024, 2026]), earlier=st.booleans(),
       pick=st.integers(0, 2), factsheet=st.booleans())
def test_any_results_file_through_compare(results: dict, year: int, earlier: bool, pick: int,
                                          factsheet: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "R.json", Path(tmp) / "out"
        path.write_text(json.dumps(results))  # NaN and Infinity as Python's json writes (and reads) them
        before = {}
        if earlier:  # a previous run's leaderboard, which a failed run must leave as it was
            out.mkdir()
            (out / "leaderboard.csv").write_text("earlier")
            before = {"leaderboard.csv": b"earlier"}
        names = list(results)
        argv = ["--results", str(path), "--year", str(year), "--out", str(out),
                f"--baseline={names[pick % len(names)].strip()}", *([f"--factsheet={names[-1]}"] if factsheet else [])]
        code, stdout, err, caught = _outcome(lambda: compare.main(argv), out)
        _assert_one_line_or_success(code, stdout, err, caught, out, before)
        if code == 0:
            assert (out / "leaderboard.csv").read_text() != "earlier"


@pytest.fixture(scope="module")
def sr_images() -> dict:
    """Two SR images (8-bit RGB PNG, 32×24) in a save folder, and the record of them a run writes."""
    folder = Path(tempfile.mkdtemp())
    saved = folder / "S" / "run"
    saved.mkdir(parents=True)
    for i, stem in enumerate(STEMS):
        cv2.imwrite(str(saved / f"{stem}.png"), np.random.default_rng(i).integers(0, 256, (24, 32, 3), np.uint8))
    yield {"dir": str(saved), "sha256": {stem: sha256_of(saved / f"{stem}.png") for stem in STEMS}}
    import shutil
    shutil.rmtree(folder, ignore_errors=True)


@_FAST
@given(data=st.data(), pick=st.integers(0, 2))
def test_any_results_file_through_submit(sr_images: dict, data: st.DataObject, pick: int) -> None:
    results = data.draw(results_files(saved=sr_images))
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "R.json", Path(tmp) / "zips" / "sub.zip"
        path.write_text(json.dumps(results))
        names = list(results)
        entry = results[names[pick % len(names)]]
        split = next((key.removesuffix("_images") for key in entry if key.endswith("_images")), None) \
            if isinstance(entry, dict) else None
        argv = ["--results", str(path), "--out", str(out), f"--model={names[pick % len(names)]}",
                *([f"--split={split}"] if split else [])]
        code, stdout, err, caught = _outcome(lambda: submit.main(argv), out.parent)
        _assert_one_line_or_success(code, stdout, err, caught, out.parent, {})
        if code == 0:
            assert sorted(p.name for p in out.parent.iterdir()) == ["sub.zip"]
