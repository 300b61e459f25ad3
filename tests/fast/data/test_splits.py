"""Splits: the official layouts, benchmark folders, the demo set, and the pairing checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.core.errors import HarnessError
from benchmark.data.splits import benchmark_split, check_split, demo_split, official_splits
from benchmark.imaging.images import read_image, write_png
from benchmark.imaging.imresize import downscale_x4


def _pair(root: Path, hr_rel: str, lr_rel: str, size: tuple[int, int] = (16, 12)) -> None:
    hr = np.random.default_rng(0).integers(0, 256, (*size, 3), dtype=np.uint8)
    write_png(root / hr_rel, hr)
    write_png(root / lr_rel, downscale_x4(hr))


def test_official_2023_layout(tmp_path: Path) -> None:
    valid, test = official_splits(tmp_path, include_test=True)
    assert (valid.name, len(valid.pairs), test.name, len(test.pairs)) == ("valid", 100, "test", 100)
    assert valid.pairs[0].lr == tmp_path / "DIV2K_valid_LR" / "0801x4.png"
    assert valid.pairs[0].hr == tmp_path / "DIV2K_valid_HR" / "0801.png"
    assert test.pairs[-1].lr == tmp_path / "DIV2K_test_LR" / "1000.png"  # no x4 suffix in the 2023 test set
    assert [s.name for s in official_splits(tmp_path)] == ["valid"]


def test_official_hybrid_test_layout(tmp_path: Path) -> None:
    for stem in ("0901", "LSDIR_0001"):
        _pair(tmp_path, f"LSDIR_DIV2K_test_HR/{stem}.png", f"LSDIR_DIV2K_test_LR/{stem}x4.png")
    (split,) = official_splits(tmp_path, include_test=True, hybrid_test=True)
    assert split.name == "hybrid_test"
    assert [(p.name, p.lr.relative_to(tmp_path).as_posix()) for p in split.pairs] == [
        ("0901", "LSDIR_DIV2K_test_LR/0901x4.png"), ("LSDIR_0001", "LSDIR_DIV2K_test_LR/LSDIR_0001x4.png")]
    check_split(split)


def test_official_2024_layout(tmp_path: Path) -> None:
    _pair(tmp_path, "DIV2K_LSDIR_valid_HR/0801.png", "DIV2K_LSDIR_valid_LR/0801x4.png")
    _pair(tmp_path, "DIV2K_LSDIR_test_HR/0901.png", "DIV2K_LSDIR_test_LR/0901x4.png")
    for year in (2024, 2025, 2026):
        splits = official_splits(tmp_path, year, include_test=True)
        assert [(s.name, s.pairs[0].lr.relative_to(tmp_path).as_posix()) for s in splits] == [
            ("valid", "DIV2K_LSDIR_valid_LR/0801x4.png"), ("test", "DIV2K_LSDIR_test_LR/0901x4.png")]
        for split in splits:
            check_split(split)
    with pytest.raises(HarnessError, match="laid out as in 2024, 2025, 2026 .*not as in 2023.*pass --year"):
        official_splits(tmp_path, 2023)
    (tmp_path / "DIV2K_LSDIR_test_HR" / "0901.png").unlink()
    (tmp_path / "DIV2K_LSDIR_test_HR").rmdir()
    with pytest.raises(HarnessError, match="DIV2K_LSDIR_test_HR: split folder not found"):
        official_splits(tmp_path, 2024, include_test=True)
    with pytest.raises(HarnessError, match="2026 has no hybrid test split"):
        official_splits(tmp_path, 2026, hybrid_test=True)


def test_benchmark_folder_takes_its_name_and_any_hr_extension(tmp_path: Path) -> None:
    root = tmp_path / "MySet"
    _pair(root, "HR/b.png", "LR_bicubic/X4/bx4.png")
    _pair(root, "HR/a.png", "LR_bicubic/X4/ax4.png")
    (root / "HR" / "a.png").rename(root / "HR" / "a.bmp")
    split = benchmark_split(root)
    assert split.name == "MySet"
    assert [p.name for p in split.pairs] == ["a", "b"]
    check_split(split)


def test_benchmark_folder_without_hr_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"HR: not found; .*python -m benchmark.prepare"):
        benchmark_split(tmp_path)


def test_missing_lr_names_both_files(tmp_path: Path) -> None:
    _pair(tmp_path, "HR/a.png", "LR_bicubic/X4/ax4.png")
    (tmp_path / "LR_bicubic" / "X4" / "ax4.png").unlink()
    with pytest.raises(HarnessError, match=r"ax4\.png: LR image missing for .*HR/a\.png"):
        check_split(benchmark_split(tmp_path))


def test_missing_hr_of_an_official_split(tmp_path: Path) -> None:
    (valid,) = official_splits(tmp_path)
    with pytest.raises(HarnessError, match=r"DIV2K_valid_HR/0801\.png: HR image missing"):
        check_split(valid)


def test_wrong_lr_size_gives_both_sizes(tmp_path: Path) -> None:
    _pair(tmp_path, "HR/a.png", "LR_bicubic/X4/ax4.png", size=(18, 13))  # cut to 16×12 → LR 4×3
    write_png(tmp_path / "LR_bicubic" / "X4" / "ax4.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(HarnessError, match=r"LR is 4×4, so ×4 gives 16×16, but its HR a\.png is 13×18 \(12×16 cut"):
        check_split(benchmark_split(tmp_path))


def test_hr_sizes_not_multiple_of_4_are_accepted_after_cutting(tmp_path: Path) -> None:
    _pair(tmp_path, "HR/odd.png", "LR_bicubic/X4/oddx4.png", size=(19, 23))
    check_split(benchmark_split(tmp_path))


def test_empty_split_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "HR").mkdir()
    with pytest.raises(HarnessError, match="no HR images found"):
        check_split(benchmark_split(tmp_path))


def test_demo_set_is_built_once_from_scikit_image(tmp_path: Path) -> None:
    split = demo_split(tmp_path)
    assert split.name == "demo"
    assert [p.name for p in split.pairs] == ["astronaut", "chelsea", "coffee", "rocket"]
    check_split(split)
    hr = read_image(split.pairs[1].hr)  # chelsea is 300×451: cut to 300×448
    assert hr.shape == (300, 448, 3)
    assert np.array_equal(read_image(split.pairs[1].lr), downscale_x4(hr))
    stamp = split.pairs[0].lr.stat().st_mtime_ns
    demo_split(tmp_path)
    assert split.pairs[0].lr.stat().st_mtime_ns == stamp


def test_set14_pairs_check_including_grayscale_and_odd_sizes(shared: Path) -> None:
    split = benchmark_split(shared / "data" / "Set14")
    check_split(split)
    assert len(split.pairs) == 14
    assert read_image(next(p.hr for p in split.pairs if p.name == "bridge")).shape[2] == 3
