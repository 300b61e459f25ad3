"""The sweep's one-line figures of an entry."""

from benchmark.organizer.driver import figures


def test_figures_say_n_a_for_a_missing_runtime_and_nothing_for_a_dry_run() -> None:
    entry = {"Set5_ave_psnr": 30.1242, "Set5_ave_runtime": 41.25, "Set14_ave_psnr": None, "Set14_ave_runtime": None}
    assert figures(entry, ["Set5", "Set14"]) == "Set5 30.12 dB 41.2 ms; Set14 PSNR n/a n/a ms"
    dry = {"dry_run": True, "Set5_ave_psnr": 30.1242, "Set5_ave_runtime": None}
    assert figures(dry, ["Set5"]) == "Set5 30.12 dB"  # a CPU dry run holds no runtime of record: none is shown
