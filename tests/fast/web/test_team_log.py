"""A team page's sweep log: its end only, bounded however much the team printed (a hostile team's log of one
80 MB line made an 80 MB page)."""

from __future__ import annotations

from pathlib import Path

from benchmark.web.team import LINE_CHARS, LOG_LINES, log_tail


def test_a_log_of_megabytes_gives_a_page_of_its_last_lines_each_cut_to_a_bound(tmp_path: Path) -> None:
    log = tmp_path / "14.log"
    log.write_text("x" * 5_000_000 + "\n" + "".join(f"line {i}\n" for i in range(100)))
    html = log_tail(log)
    assert html == (f"<p>Last {LOG_LINES} lines of <code>{log}</code>:</p><pre>"
                    + "\n".join(f"line {i}" for i in range(100 - LOG_LINES, 100)) + "</pre>")
    log.write_text("line 0\n" + "<b>" * 3_000_000 + "\nthe end\n")  # one line fills what is read of the end
    html = log_tail(log)
    assert html == (f"<p>Last 2 lines of <code>{log}</code>:</p><pre>{'&lt;b&gt;' * (LINE_CHARS // 3)}&lt;… (cut)"
                    "\nthe end</pre>")


def test_a_short_log_is_shown_whole(tmp_path: Path) -> None:
    log = tmp_path / "00.log"
    log.write_text("[sweep] building\nran <ok>\n")
    assert log_tail(log) == f"<p>Last 2 lines of <code>{log}</code>:</p><pre>[sweep] building\nran &lt;ok&gt;</pre>"
