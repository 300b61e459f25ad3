"""What the organizers published, as the harness ships it and as their files hold it: every year's rows, the 2024
table ranked by its own rule, the forms a published file comes in, and bridge networks between years."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from benchmark.core.errors import HarnessError
from benchmark.organizer.published import compare
from benchmark.rank.bridges import Bridge, bridges, scale
from benchmark.rank.predict import published_table
from benchmark.rank.publications import decimals, read_file, shipped, shipped_header
from benchmark.rank.scoring import exp_score


def test_2024_ships_table_1_whole_and_its_baseline_run() -> None:
    rows = shipped(2024)
    table = [r for r in rows if r.primary]
    assert len(table) == 35 and sum(r.reported.get("ranked", False) for r in table) == 26
    assert {r.team_id for r in table if r.team_id is not None} == {0, 1, 16, 17, 18, 19, 23, 24, 31, 38, 39}
    assert sum(r.team_id is None for r in table) == 24  # matched by their figures
    cao = next(r for r in table if r.team == "Cao Group")
    assert cao.figures == {"num_parameters": 0.215, "flops": 13.05} and cao.decimals["num_parameters"] == 3
    pixupt = next(r for r in table if r.team == "PiXupt")
    assert pixupt.decimals["num_parameters"] == 3 and decimals(pixupt.figures["num_parameters"]) == 2  # 0.060
    also = [r for r in rows if not r.primary]
    assert [(r.team, r.figures["activations"], r.figures["num_conv"]) for r in also] == [
        ("00_RLFN_baseline", 80.045184, 39)]


def test_the_2024_table_ranks_as_published_by_the_2024_rule() -> None:
    """The transcription checked against itself: the year's rule on the shipped figures gives the printed ranks,
    and exactly the rows printed as ranked are ranked (the others miss a PSNR floor)."""
    table = published_table(2024)
    board = exp_score(table, 2024, "00_RLFN_baseline")
    ranked = board.loc[board["rank"].notna() & (board["team"] != "00_RLFN_baseline")].sort_values("score")
    printed = table.loc[table["rank"].notna()].sort_values("rank")
    assert list(ranked["team"]) == list(printed["team"]) and len(printed) == 26


def test_2025_has_the_baseline_only_and_no_leaderboard() -> None:
    rows = shipped(2025)
    assert {r.team for r in rows} == {"00_EFDN_baseline"} and published_table(2025) is None
    readme, log = rows
    assert readme.figures == {"num_parameters": 0.276, "flops": 16.7} and readme.decimals["flops"] == 2
    assert readme.reported["ave_t"] == 16.69 and not log.primary and log.figures["num_conv"] == 65
    assert shipped_header(2025)["leaderboard"] is False and shipped(2023) == [] and shipped_header(2023) is None


def test_2026_rows_carry_ids_and_every_complexity_figure() -> None:
    rows = shipped(2026)
    assert len(rows) == 16 and all(r.team_id == int(r.team[:2]) for r in rows)
    span = rows[0]
    assert span.figures == {"num_parameters": 0.150688, "flops": 9.833807872, "activations": 41.680896,
                            "num_conv": 22}
    assert span.reported["ave_t"] == pytest.approx((8.00402544260025 + 7.468770685791969) / 2)


def test_a_published_file_in_each_form(tmp_path: Path) -> None:
    organizers = tmp_path / "results.json"
    organizers.write_text(json.dumps({"         11_Net": {"num_parameters": 0.051465, "flops": 3.2982528,
                                                          "valid_ave_runtime": 54.0, "test_ave_runtime": 47.0},
                                      "NoId": {"num_parameters": 0.1}}))
    rows = read_file(organizers)
    assert [(r.team_id, r.id_from) for r in rows] == [(11, "name"), (None, None)]
    assert rows[0].decimals["flops"] == 7 and rows[0].reported["ave_t"] == 50.5
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"rows": [{"team": "A", "team_id": None, "params_M": 0.2, "flops_G": 13.0,
                                           "val_psnr": 26.9, "main_rank": 2, "ranked": True},
                                          {"team": "B", "team_id": 7, "team_id_basis": "stated: its README",
                                           "params_M": 0.1, "flops_G": 5.0}]}))
    a, b = read_file(table)
    assert a.team_id is None and a.decimals == {"num_parameters": 3, "flops": 2, "val_psnr": 2, "rank": 0}
    assert a.reported == {"val_psnr": 26.9, "rank": 2, "ranked": True} and (b.team_id, b.id_from) == (7, "stated")
    for text, why in (("[1, 2]", "no entry has"), ("{not json", "not a readable JSON file"),
                      ('{"x": {"y": 1}}', "no entry has")):
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(HarnessError, match=why):
            read_file(tmp_path / "bad.json")


@pytest.mark.parametrize(("name", "content", "why"), [
    ("bin.toml", b"\xff\xfe", "bin.toml: not a readable published-results file \\('utf-8' codec can't decode"),
    ("deep.json", b"[" * 100_000, "deep.json: not a readable JSON file \\(nested too deeply\\)"),
    ("deep.toml", b"a = " + b"[" * 5000 + b"1" + b"]" * 5000, "deep.toml: not a readable published-results file "
                                                                 "\\(nested too deeply\\)"),
    ("nosource.toml", b'[[entry]]\nteam = "00_X"\nparams = 0.1\n', "not in the project's format \\(KeyError: 'source'"),
    ("noteam.toml", b'source = "s"\n[[entry]]\nparams = 0.1\n', "not in the project's format \\(KeyError: 'team'"),
    ("numbers.toml", b'source = "s"\nentry = [1, 2]\n', "not in the project's format \\(TypeError"),
    ("decimals.toml", b'source = "s"\nprinted_decimals = "x"\n[[entry]]\nteam = "X"\nparams = 0.1\n',
     "decimals.toml: printed_decimals is 'x', not a table of figure = decimals"),
    # each of these was a traceback, a number of decimals printed by the hundred thousand, or a match it is not
    ("places.toml", b'source = "s"\n[printed_decimals]\nparams = 2.5\n[[entry]]\nteam = "X"\nparams = 0.1\n',
     "places.toml: printed_decimals.params is 2.5, not a whole number of decimals from 0 to 15"),
    ("many.toml", b'source = "s"\n[[entry]]\nteam = "X"\nparams = 0.1\nprinted_decimals = {params = 100000}\n',
     "many.toml: entry 'X': printed_decimals.params is 100000, not a whole number of decimals from 0 to 15"),
    ("textid.toml", b'source = "s"\n[[entry]]\nteam = "X"\nteam_id = "3"\nparams = 0.1\n',
     "textid.toml: entry 'X': team_id '3' is not a whole number; give the repository id, or leave it out"),
    ("falseid.toml", b'source = "s"\n[[entry]]\nteam = "X"\nteam_id = false\nparams = 0.1\n',
     "falseid.toml: entry 'X': team_id False is not a whole number"),  # False == 0: it matched team 00
    ("trueid.json", b'{"rows": [{"team": "X", "team_id": true, "params_M": 0.1}]}',
     "trueid.json: row 'X': team_id True is not a whole number"),  # True == 1: it matched team 01
    ("twice.toml", b'source = "s"\n[[entry]]\nteam = "A"\nteam_id = 3\nparams = 0.1\n[[entry]]\nteam = "B"\n'
                   b'team_id = 3\nparams = 0.2\n', "twice.toml: team id 3 is given to two rows, A and B"),
    ("rows.toml", b'source = "s"\n[[rows]]\nteam = "X"\nparams = 0.1\n', "rows.toml: no entry has num_parameters"),
    ("fifo.json", None, "fifo.json: not a regular file"),
    ("huge.json", b'{"rows": []}' + b" " * (1 << 24), "huge.json: over 16 MiB, not a published-results file"),
])
def test_a_malformed_published_file_is_one_line(tmp_path: Path, name: str, content: bytes | None, why: str) -> None:
    """``sweep --published FILE`` as a user may get it wrong: not UTF-8, nested past the parser's stack, a TOML file
    without the project format's keys or with none of its rows, a FIFO (reading it never ends). Each is one line,
    never a traceback, a hang or a silent comparison with nothing."""
    path = tmp_path / name
    if content is None:
        os.mkfifo(path)
    else:
        path.write_bytes(content)
    with pytest.raises(HarnessError, match=why):
        read_file(path)


@pytest.mark.parametrize("figure", ["NaN", "Infinity", "-0.15", "1" + "0" * 400])
def test_a_published_figure_that_is_no_finite_number_at_least_0_is_left_out(tmp_path: Path, figure: str) -> None:
    """A published NaN, infinity or negative count was compared (every entry '≠, published nan'); an int past a
    float's range was an OverflowError traceback. None is a figure: it is left out, the row's others compared."""
    (tmp_path / "results.json").write_text(f'{{"00_SPAN": {{"num_parameters": {figure}, "flops": 9.833807872}}}}')
    (row,) = read_file(tmp_path / "results.json")
    assert row.figures == {"flops": 9.833807872}
    block = compare({"num_parameters": 0.150688, "flops": 9.833807872}, [row], "00_SPAN", 0, "results.json")
    assert block["match"] is True and list(block["figures"]) == ["flops"]


def test_a_table_figure_that_is_no_number_is_left_out(tmp_path: Path) -> None:
    """A transcribed table's ``params_M: "big"`` is no figure to compare with: left out, the row's others kept."""
    (tmp_path / "t.json").write_text(json.dumps({"rows": [{"team": "A", "params_M": "big", "flops_G": 1.5}]}))
    (row,) = read_file(tmp_path / "t.json")
    assert row.figures == {"flops": 1.5}


def test_span_bridges_2024_to_2026_and_nothing_reaches_2025() -> None:
    (span,) = bridges()
    assert span.network == "SPAN" and span.ms == {2024: 5.59, 2026: pytest.approx(7.7364, abs=1e-4)}
    forward, back = scale(2024, 2026), scale(2026, 2024)
    assert forward.factor == pytest.approx(7.736398064196109 / 5.59) and forward.path == ("SPAN 2024→2026",)
    assert forward.convert(5.59) == pytest.approx(7.736398064196109) and "RTX 3090 → RTX A6000" in forward.why
    assert back.factor * forward.factor == pytest.approx(1.0)
    for year in (2023, 2025):
        lost = scale(year, 2026)
        assert lost.factor is None and lost.convert(10.0) is None and "no bridge network joins" in lost.why
    assert scale(2026, 2026).factor == 1.0


def test_bridges_chain_through_the_fewest_networks() -> None:
    links = [Bridge("A", {2023: 10.0, 2024: 20.0}, ""), Bridge("B", {2024: 4.0, 2026: 2.0}, ""),
             Bridge("C", {2023: 1.0, 2026: 3.0}, "")]
    assert scale(2023, 2026, links).path == ("C 2023→2026",)  # one bridge, not two
    chained = scale(2023, 2026, links[:2])
    assert chained.factor == pytest.approx(20.0 / 10.0 * 2.0 / 4.0) and len(chained.path) == 2
    assert math.isclose(scale(2026, 2023, links[:2]).factor, 1 / chained.factor)
