"""The atlas on the across-years page from an ``atlas.json`` edited by hand (``benchmark.site --atlas``): every value
the page reads is checked where it is read; a bad one is n/a with one warning line naming the file and key, an item
without what identifies it is left out with one line, and the rest of the page is built."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmark.core.errors import HarnessError
from benchmark.web import atlas
from benchmark.web.markup import Pages


def row(model: str, year: int, params: float) -> dict:
    return {"year": year, "source": f"NTIRE{year}_ESR", "model": model, "team": None, "mine": False,
            "psnr": {"Set5": 30.1}, "ssim": {"Set5": 0.85}, "params": params, "flops_fvcore": 10.0,
            "flops_hooks": 10.5, "macs_ptflops": 11.0, "activations": 20.0, "conv": 30, "ratio": 1.2,
            "ratio_ci95": [1.1, 1.3], "published": {"name": "Team", "matched_by": "id", "match": True,
                                                     "figures": {"num_parameters": {"published": params,
                                                                                    "match": True}},
                                                     "reported": {"ave_t": 5.0, "gpu": "RTX 3090"}}}


def document() -> dict:
    return {"atlas": {"sets": ["Set5"], "reference": {"year": 2026, "name": "00_SPAN"}, "devices": ["CPU"]},
            "rows": [row("01_A", 2024, 0.2), row("02_B", 2025, 0.3)],
            "failures": [{"year": 2024, "source": "NTIRE2024_ESR", "label": "07", "reason": "needs mmcv"}],
            "winners": [{"year": 2024, "team": "Team", "model": "01_A", "why": "first"}],
            "verdicts": [], "scales": {"2024": {"factor": 1.38, "why": "SPAN"}},
            "bridges": [{"network": "SPAN", "ms": {"2024": 5.59, "2026": 7.74}, "why": "published twice"}]}


def page(tmp_path: Path, edited: dict) -> tuple[str, list[str]]:
    path = tmp_path / "atlas.json"
    path.write_text(json.dumps(edited))
    read, warnings = atlas.read(path)
    return atlas.section(read, Pages({}, {}), 2026), [w.replace(str(path), "F") for w in warnings]


def test_a_clean_atlas_has_no_warning(tmp_path: Path) -> None:
    html, warnings = page(tmp_path, document())
    assert warnings == [] and html.count('<tr id="atlas-') == 2 and "needs mmcv" in html and "1.200" in html


def test_hand_edited_values_are_n_a_with_one_line_each_and_the_rest_is_built(tmp_path: Path) -> None:
    edited = document()  # each of these was a traceback (TypeError, ValueError, KeyError, AttributeError)
    first, second = edited["rows"]
    first.update({"params": "0.2", "ratio_ci95": [1.1], "psnr": "30", "published": "Team"})
    second["year"] = "2025"
    edited["rows"].append(7)
    edited["failures"].append({"label": "09"})
    edited["bridges"][0]["ms"] = {"2024": "fast"}
    html, warnings = page(tmp_path, edited)
    assert warnings == [
        "warning: --atlas F: rows[0].psnr is '30', not an object of set → figure; shown as n/a on the site",
        "warning: --atlas F: rows[0].ratio_ci95 is [1.1], not [low, high]; shown as n/a on the site",
        "warning: --atlas F: rows[0].params is '0.2', not a number, not a finite number ≥ 0; shown as n/a on the "
        "site",
        "warning: --atlas F: rows[0].published is 'Team', not the published block; shown as n/a on the site",
        "warning: --atlas F: rows[1].year is '2025', not a number, not a whole number ≥ 0; shown as n/a on the site",
        "warning: --atlas F: rows[2] is 7, not an object; shown as n/a on the site",
        "warning: --atlas F: bridges[0].ms is {'2024': 'fast'}, not an object of year → ms; shown as n/a on the site",
        "warning: --atlas F: rows[1] has no year; left out of the site",
        "warning: --atlas F: rows[2] has no year, source, model; left out of the site",
        "warning: --atlas F: failures[1] has no source, reason; left out of the site",
        "warning: --atlas F: bridges[0] has no ms; left out of the site"]
    assert html.count('<tr id="atlas-') == 1 and 'data-team="01_A"' in html and "needs mmcv" in html


@pytest.mark.parametrize("edit", [lambda d: d.update(atlas=[]), lambda d: d["atlas"].update(sets="Set5"),
                                  lambda d: d["atlas"].update(reference=None), lambda d: d.pop("rows")])
def test_a_file_that_is_no_atlas_is_one_line(tmp_path: Path, edit) -> None:  # noqa: ANN001 - a lambda
    edited = document()
    edit(edited)
    with pytest.raises(HarnessError, match=r"^--atlas .*atlas\.json: .*; build it with python -m benchmark\.atlas$"):
        page(tmp_path, edited)


def test_hostile_names_and_reasons_are_text_in_the_raw_html(tmp_path: Path) -> None:
    """Names, a team's failure reason and the device come from team code and users' files: all escaped."""
    edited = document()
    evil = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>'
    edited["rows"][0].update(model=evil, team=evil, source=evil)
    edited["failures"][0].update(label=evil, reason=evil, source=evil)
    edited["atlas"]["devices"] = [evil]
    html, warnings = page(tmp_path, edited)
    assert warnings == [] and "<script" not in html and "<img" not in html and "onerror=alert(2)>" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4


def test_each_year_s_winner_is_ringed_on_every_plot_and_a_winner_that_failed_says_why(tmp_path: Path) -> None:
    edited = document()
    edited["rows"][1]["ratio_ci95"] = None
    edited["rows"][1]["ratio_ci95_why"] = "5 pairs (1 run × 5 images), fewer than the 10 a 95% interval needs"
    edited["winners"].append({"year": 2025, "team": "Gone", "team_id": 7, "model": None, "why": "first"})
    edited["failures"].append({"year": 2025, "source": "NTIRE2025_ESR", "label": "07", "reason": "needs <CUDA>"})
    html, warnings = page(tmp_path, edited)
    assert warnings == []
    ringed = re.findall(r'data-name="([^"]*)"[^>]*><title>[^<]*</title><circle class="point ringed"', html)
    assert ringed == ["01_A (first in 2024)"] * 3  # on the plot of each cost; 02_B is not ringed
    assert html.count('class="point ringed"') == 3 and html.count('<circle class="point"') == 3
    assert 'could not run here: <span class="failed">needs &lt;CUDA&gt;</span>' in html  # 2025's winner, team 07
    assert '<span title="5 pairs (1 run × 5 images), fewer than the 10 a 95% interval needs">n/a</span>' in html
    css = (Path(atlas.__file__).parent / "assets" / "site.css").read_text()
    front = re.search(r"svg\.plot \.frontier \{[^}]*stroke: (#[0-9a-f]{6})", css).group(1)
    assert front not in atlas.YEAR_COLOURS.values()  # no year's points in the Pareto front's colour
    (tmp_path / "atlas.json").write_text(json.dumps({**edited, "winners": [{**edited["winners"][1], "team_id": "7"}]}))
    assert atlas.read(tmp_path / "atlas.json")[1] == [
        f"warning: --atlas {tmp_path / 'atlas.json'}: winners[0].team_id is '7', not a number, not a whole number (a "
        "team id); shown as n/a on the site"]


def test_a_reference_without_its_year_a_label_of_thousands_of_digits_and_a_file_nested_too_deeply(
        tmp_path: Path) -> None:
    """Each was a traceback: a KeyError for the reference's year, Python's limit on the digits of an int for a
    failure's label beside a winner, a RecursionError for an atlas.json nested past the parser's stack."""
    edited = document()
    del edited["atlas"]["reference"]["year"]
    edited["winners"][0].update(team_id=7, model=None)
    edited["failures"][0]["label"] = "7" * 5000
    html, warnings = page(tmp_path, edited)
    assert warnings == [] and "runtime as the ratio to 00_SPAN timed beside each entry" in html
    assert "not measured here" in html  # the label is no team id of the winner: no failure of its is claimed
    (tmp_path / "atlas.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(HarnessError, match=r"atlas\.json: not a readable atlas \(nested too deeply\); build it"):
        atlas.read(tmp_path / "atlas.json")
