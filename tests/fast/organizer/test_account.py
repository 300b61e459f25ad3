"""``--run-as``: an account that cannot confine a team is refused in one line before any team runs."""

from __future__ import annotations

import os
import pwd

import pytest

from benchmark.core.errors import HarnessError
from benchmark.organizer import account
from benchmark.sweep import parse_args


def test_an_unknown_user_is_refused_naming_how_to_make_one() -> None:
    with pytest.raises(HarnessError, match=r"^--run-as no-such-user-here: no such user on .*; make one for the teams "
                                           r"\(useradd --system --no-create-home esr-team\) or name another$"):
        account.resolve("no-such-user-here")


@pytest.mark.parametrize("user", ["root", "0"])
def test_root_is_no_confinement(user: str) -> None:
    with pytest.raises(HarnessError, match=f"^--run-as {user}: that is root, which the team's code would then be"):
        account.resolve(user)


def test_only_root_can_start_a_team_as_another_user(monkeypatch: pytest.MonkeyPatch) -> None:
    nobody = pwd.getpwnam("nobody")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(HarnessError, match=r"^--run-as nobody: only root can start a team as another user, and this "
                                           r"sweep runs as .*; run the sweep as root, or drop --run-as"):
        account.resolve("nobody")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert account.resolve(str(nobody.pw_uid)) == account.Account("nobody", nobody.pw_uid, nobody.pw_gid)


def test_the_account_writes_no_sr_images() -> None:
    with pytest.raises(HarnessError, match=r"^--run-as USER: the team's account writes no SR images into --save_dir; "
                                           r"drop one of them; see python -m benchmark.sweep --help$"):
        parse_args(["--challenge-repo", ".", "--run-as", "nobody", "--save_dir", "out", "--dataset", "x"])


def test_mode_bits_decide_whether_the_account_enters_a_folder(tmp_path) -> None:
    someone = account.Account("someone", 4242, 4242)
    tmp_path.chmod(0o701)
    assert someone.enters(tmp_path)
    tmp_path.chmod(0o750)
    assert not someone.enters(tmp_path)
    os.chown(tmp_path, 0, 4242)
    assert someone.enters(tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user and back needs root")
def test_what_the_account_installed_is_taken_back_writable_by_no_one_else_and_without_set_id_bits(tmp_path) -> None:
    someone = account.Account("someone", 4242, 4242)
    folder = tmp_path / "overlay"
    (folder / "pkg").mkdir(parents=True)
    tool = folder / "pkg" / "tool"
    tool.write_text("#!/bin/sh\n")
    (folder / "link").symlink_to("/etc/passwd")
    for path in (folder, folder / "pkg", tool):
        os.chown(path, 4242, 4242)
    tool.chmod(0o6777)
    (folder / "pkg").chmod(0o777)
    someone.take_back(folder)
    assert {p.name: (p.lstat().st_uid, oct(p.lstat().st_mode & 0o7777)) for p in (folder / "pkg", tool)} == {
        "pkg": (0, "0o755"), "tool": (0, "0o755")}
    assert os.stat("/etc/passwd").st_uid == 0 and oct(os.stat("/etc/passwd").st_mode & 0o777) == "0o644"
