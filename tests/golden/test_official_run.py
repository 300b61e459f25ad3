"""Faithful SRneXt and RFDN run by test_demo.py on Set5, Set14 and B100, against the figures and outputs of the official harness."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import run_main

import test_demo
from benchmark.imaging.images import read_image
from benchmark.record.store import read_results
from benchmark.report.tables import PUBLISHED_TABLE1

MODELS = {"rfdn": "00_RFDN_baseline", "exnet": "05_SRneXt"}
SETS = ("Set5", "Set14", "B100")
pytestmark = pytest.mark.timeout(2400)
"""The module's fixture runs the faithful SRneXt on 119 images: its first test waits for it on a busy machine."""


def run(argv: list[str]) -> tuple[int, str, str]:
    return run_main(test_demo.main, argv)


@pytest.fixture(scope="module")
def official_run(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("run")
    argv = ["--model_id", "0", "5", "--model_zoo", str(shared / "reference" / "model_zoo"),
            "--results", str(tmp / "R.json"), "--save_dir", str(tmp / "S"), "--ssim", "--y-channel",
            "--device", "cpu", "--reproduce-table1"]
    for name in SETS:
        argv += ["--dataset", str(shared / "data" / name)]
    code, out, err = run(argv)
    assert code == 0, err
    return {"tmp": tmp, "out": out, "results": read_results(tmp / "R.json"),
            "reference": json.loads((shared / "reference" / "metrics.json").read_text())}


# On another CPU a few output values at a rounding boundary round the other way (float32 kernels sum in
# another order; see conftest.assert_round_off_only): one such value moves an image's PSNR by ~1e-6 dB,
# PSNR-Y by up to ~6e-5 dB and SSIM-Y by up to ~4e-6 (measured on B100). Nothing else may differ.
TOLERANCE = {"psnr": 1e-4, "ssim": 1e-5}


@pytest.mark.parametrize("dataset", SETS)
@pytest.mark.parametrize("model", MODELS)
def test_per_image_figures_match_the_official_utilities(official_run: dict, model: str, dataset: str) -> None:
    entry = official_run["results"][MODELS[model]]
    reference = official_run["reference"][model][dataset]
    assert entry[f"{dataset}_images"] == sorted(reference["images"])
    for metric in ("psnr", "ssim", "psnr_y", "ssim_y"):
        ours = dict(zip(entry[f"{dataset}_images"], entry[f"{dataset}_{metric}"]))
        worst = max(abs(ours[name] - figures[metric]) for name, figures in reference["images"].items())
        assert worst <= TOLERANCE[metric.removesuffix("_y")], (metric, worst)
    assert entry[f"{dataset}_ave_psnr"] == pytest.approx(reference["mean_psnr"], abs=TOLERANCE["psnr"])


@pytest.mark.parametrize("model", MODELS)
def test_saved_images_equal_the_official_outputs_but_for_round_off(official_run: dict, shared: Path, model: str) -> None:
    """What test_models checks of the network's output, checked of the files the run saved."""
    differ = total = 0
    for ref in sorted((shared / "reference" / "sr" / model / "Set5").glob("*.png")):
        ours = read_image(official_run["tmp"] / "S" / MODELS[model] / "Set5" / ref.name).astype(int)
        theirs = read_image(ref)
        assert np.abs(ours - theirs).max() <= 1
        differ += int((ours != theirs).sum())
        total += ours.size
    assert total == 1_702_368 and differ / total <= 1e-4


def test_results_carry_official_keys_complexity_and_environment(official_run: dict) -> None:
    entry = official_run["results"]["05_SRneXt"]
    assert entry["num_parameters"] == 0.244558 and entry["num_conv"] == 158
    assert entry["complexity"]["fvcore_flops"] == 16986144768
    assert entry["variant"] == "faithful"
    assert len(entry["B100_runtime"]) == 100 and all(t > 0 for t in entry["B100_runtime"])
    assert entry["B100_memory_kind"] == "cpu_peak_rss"
    assert entry["B100_runtime_stats"]["clock"] == "cpu_perf_counter"
    assert entry["environment"]["torch"] and entry["environment"]["device"] == "cpu"
    assert (entry["year"], entry["flops_counter"], entry["flops"]) == (2023, "hooks", 15.36589824)
    assert entry["checkpoint"]["sha256"] == "1497301076bdc255c92c734687dd25330cb32709a2083e0f2ca991ad0f7c815d"
    assert entry["splits"] == ["Set5", "Set14", "B100"]
    memory = [entry[f"{s}_memory"] for s in entry["splits"]]
    assert memory == [max(entry[f"{t}_peak_memory"] for t in entry["splits"][: i + 1]) for i in range(3)]
    txt = (official_run["tmp"] / "R.txt").read_text().splitlines()  # named after the results file
    assert txt[0].startswith("model\tSet5_psnr\tSet14_psnr\tB100_psnr")
    assert {line.split("\t")[0] for line in txt[1:]} == set(MODELS.values())
    assert "Set5 baby run 1 runtime" in (official_run["tmp"] / "R.log").read_text()


def test_factsheet_table_and_table1_reproduction_are_printed(official_run: dict) -> None:
    out = official_run["out"]
    assert "Factsheet Table 1" in out and "PSNR[B100]" in out and "CPU peak RSS [MiB]" in out
    assert "SSIM[B100]" in out and "27.103*" in out and "15.366*" in out  # the figure of record is marked
    assert "Table 1 of the SRneXt factsheet, reproduced" in out
    assert "hooks + those 10,027,008 MACs = 15.3759 G" in out


def test_published_table1_is_transcribed_from_the_factsheet(shared: Path) -> None:
    published = json.loads((shared / "reference" / "factsheet_table1.json").read_text())
    factsheet, organizers = published["team05_srnext_factsheet"], published["team05_srnext_official_report_row"]
    ours = PUBLISHED_TABLE1
    assert ours["factsheet"] == {"psnr_val": factsheet["psnr_val"], "psnr_test": factsheet["psnr_test"],
                                 "params_m": factsheet["params_m"], "flops_g": factsheet["flops_g"],
                                 "mem_m": factsheet["gpu_mem_m"], "activations_m": factsheet["activations_m"],
                                 "runtime_ms": factsheet["avg_runtime_ms"], "conv": factsheet["conv2d"]}
    assert ours["organizers"] == {"psnr_val": organizers["psnr_val"], "psnr_test": organizers["psnr_test"],
                                  "params_m": organizers["params_m"], "flops_g": organizers["flops_g"],
                                  "mem_m": organizers["mem_m"], "activations_m": organizers["activations_m"],
                                  "runtime_ms": organizers["ave_runtime_ms"], "conv": organizers["conv"]}


@pytest.mark.parametrize("fast", [False, True])
def test_profile_flags_host_work_in_the_faithful_srnext_only(shared: Path, tmp_path: Path, fast: bool) -> None:
    argv = ["--model_id", "5", "--profile", "--dataset", str(shared / "data" / "Set5"), "--no-save", "--warmup", "0",
            "--model_zoo", str(shared / "reference" / "model_zoo"), "--results", str(tmp_path / "R.json")]
    code, out, _ = run(argv + (["--fast"] if fast else []))
    assert code == 0
    assert "forward time by module" in out
    if fast:  # on a CPU the body is one compiled operator: its layers are not modules called one by one
        assert "_FastBody" in out and "body.*.sg" not in out
        assert "host-side work inside forward: none" in out
        assert read_results(tmp_path / "R.json")["05_SRneXt"]["variant"] == "fast"
    else:
        assert "body.*.sg" in out
        assert "Host-side work inside forward" in out and "aten.eye" in out and "body.*.mlp.fc1" in out
