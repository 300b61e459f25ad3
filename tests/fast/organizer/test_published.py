"""A team's figures beside the published ones: matched by name, by id, or by its unique figures at the printed
precision (a report that names teams, not ids), ambiguous when the figures fit several rows, every figure compared
at its published precision with the reason it differs."""

from __future__ import annotations

from benchmark.organizer.published import UNEXPLAINED, claimed_twice, compare, verdict
from benchmark.rank.publications import Row, shipped

TABLE = [
    Row("Cao Group", None, "Table 1", {"num_parameters": 0.215, "flops": 13.05}, {"num_parameters": 3, "flops": 2},
        {"val_psnr": 26.9, "ave_t": 8.37}, gpu="RTX 3090"),
    Row("Twin A", None, "Table 1", {"num_parameters": 0.1, "flops": 5.0}, {"num_parameters": 3, "flops": 2}),
    Row("Twin B", None, "Table 1", {"num_parameters": 0.1, "flops": 5.0}, {"num_parameters": 3, "flops": 2}),
    Row("Known", 7, "Table 1", {"num_parameters": 0.215, "flops": 13.05}, {"num_parameters": 3, "flops": 2},
        id_from="stated", note="the repository's checkpoint is the reparameterised network; Table 1 the training one"),
    Row("00_Base", 0, "Table 1", {"num_parameters": 0.317, "flops": 19.67}, {"num_parameters": 3, "flops": 2}),
    Row("00_Base", 0, "results.json", {"num_parameters": 0.317218, "flops": 19.67485952, "activations": 80.045184,
                                       "num_conv": 39},
        {"num_parameters": 6, "flops": 8, "activations": 6, "num_conv": 0}, primary=False),
]


def record(params: float, flops: float, activations: float = 1.0, conv: int = 3) -> dict:
    return {"num_parameters": params, "flops": flops, "activations": activations, "num_conv": conv}


def test_a_row_without_an_id_is_matched_by_its_unique_figures() -> None:
    block = compare(record(0.215218, 13.0549), TABLE, "12_Whatever", 12, "t.json")
    assert (block["name"], block["matched_by"], block["match"]) == ("Cao Group", "figures", True)
    assert block["figures"]["num_parameters"] == {"ours": 0.215218, "published": 0.215, "decimals": 3, "match": True}
    assert block["reported"] == {"val_psnr": 26.9, "ave_t": 8.37, "gpu": "RTX 3090"} and block["explanation"] is None
    assert verdict(block) == "= 2/2 (by figures: Cao Group)"
    off = compare(record(0.2156, 13.05), TABLE, "12_Whatever", 12, "t.json")  # 0.216 at 3 decimals: no row
    assert off["name"] is None and off["matched_by"] is None and verdict(off) == "not published"


def test_figures_that_fit_several_rows_are_ambiguous_and_take_none() -> None:
    block = compare(record(0.1001, 4.996), TABLE, "03_Twin", 3, "t.json")
    assert block["name"] is None and block["match"] is None and block["candidates"] == ["Twin A", "Twin B"]
    assert verdict(block) == "ambiguous: its figures equal Twin A and Twin B"


def test_rows_with_an_id_belong_to_that_team_only() -> None:
    stranger = compare(record(0.215, 13.05), [TABLE[3]], "12_Other", 12, "t.json")
    assert stranger["name"] is None  # the figures of team 7's row do not make team 12 team 7
    own = compare(record(0.2, 13.05), TABLE, "07_Known", 7, "t.json")
    assert own["matched_by"] == "id" and own["match"] is False
    assert own["figures"]["num_parameters"]["match"] is False and own["figures"]["flops"]["match"] is True
    assert own["explanation"] == TABLE[3].note
    assert verdict(own) == f"≠ num_parameters 0.200 (published 0.215) (by id): {TABLE[3].note}"


def test_every_publication_of_a_team_counts_the_most_precise_figure() -> None:
    block = compare(record(0.317218, 19.67485952, 80.045184, 39), TABLE, "00_RLFN", 0, "t.json")
    assert block["matched_by"] == "id" and block["name"] == "00_Base" and block["match"] is True
    assert {k: f["decimals"] for k, f in block["figures"].items()} == {"num_parameters": 6, "flops": 8,
                                                                       "activations": 6, "num_conv": 0}
    assert block["sources"] == ["Table 1", "results.json"]
    wrong = compare(record(0.317218, 19.67485952, 80.0, 39), TABLE, "00_RLFN", 0, "t.json")
    assert wrong["match"] is False and wrong["explanation"] == UNEXPLAINED
    assert verdict(wrong).startswith("≠ activations 80.000000 (published 80.045184) (by id): not explained")


def test_a_name_as_written_wins_over_an_id_and_a_missing_figure_never_matches() -> None:
    rows = shipped(2026)
    spaced = compare(record(0.051465, 3.2982528, 184.127488, 169), rows, "         11_VSCINet", 11, "x")
    assert spaced["matched_by"] == "name" and spaced["match"] is True
    padded = compare(record(0.346152, 22.600876032, 84.54144, 36), rows, "009_RFDN_SPAN", 9, "x")
    assert padded["matched_by"] == "id" and padded["name"] == "09_RFDN_SPAN" and padded["match"] is True
    blank = compare({"num_parameters": None, "flops": None}, TABLE, "x", None, "t.json")
    assert blank["name"] is None and blank["candidates"] == []


def test_two_entries_claiming_one_row_by_figures_are_found() -> None:
    blocks = {"a": compare(record(0.215, 13.05), TABLE, "1_a", 1, "t"), "b": compare(record(0.215, 13.05), TABLE,
                                                                                    "2_b", 2, "t"),
              "c": compare(record(0.1, 5.0), TABLE, "3_c", 3, "t"), "d": None}
    assert claimed_twice(blocks) == {"Cao Group": ["a", "b"]}
