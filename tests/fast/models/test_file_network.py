"""A network given as a file outside the checkout (``--model path/to/arch.py:ClassName``): loaded without a team file,
measured by test_demo.py exactly as a registered team (its Table 1 row), and every mistake in its flags one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from helpers import run_main, write_set

import models
import test_demo
from benchmark.core.errors import HarnessError
from benchmark.measure.complexity import measure
from benchmark.record.store import read_results

REAL_EXIT = os._exit

ARCH = '''\
import torch
from torch import nn

from helper_block import Block  # a module beside the file imports, as running the file would


class MyNet(nn.Module):
    def __init__(self, feats=8):
        super().__init__()
        self.body = Block(feats)
        self.up = nn.PixelShuffle(4)

    def forward(self, x):
        return self.up(self.body(x))


def not_a_network():
    return 42
'''
BLOCK = '''\
from torch import nn


class Block(nn.Sequential):
    def __init__(self, feats):
        super().__init__(nn.Conv2d(3, feats, 3, padding=1), nn.ReLU(), nn.Conv2d(feats, 48, 3, padding=1))
'''


@pytest.fixture
def network(tmp_path: Path) -> dict[str, Path]:
    """arch.py (MyNet, which imports a module beside it) outside the checkout, and MyNet(feats=6)'s weights."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "arch.py").write_text(ARCH)
    (folder / "helper_block.py").write_text(BLOCK)
    spec = models.file_spec(f"{folder / 'arch.py'}:MyNet", kwargs={"feats": 6}, data_range=1.0)
    torch.manual_seed(3)
    weights = tmp_path / "w.pth"
    torch.save(spec.builder(feats=6).state_dict(), weights)
    return {"arch": folder / "arch.py", "weights": weights, "data": write_set(tmp_path / "Mini", {"a": (64, 48)}),
            "tmp": tmp_path}


def test_a_file_network_is_built_named_and_loaded_strictly(network: dict[str, Path]) -> None:
    spec = models.file_spec(f"{network['arch']}:MyNet", kwargs={"feats": 6}, data_range=1.0, name="Mine", year=2026)
    assert (spec.display_name, spec.data_range, spec.year) == ("Mine", 1.0, 2026)
    model = models.build_model(spec, network["weights"])
    assert not model.training and all(not p.requires_grad for p in model.parameters())
    assert measure(model)["params"] == sum(p.numel() for p in model.parameters()) == 3 * 6 * 9 + 6 + 6 * 48 * 9 + 48
    with pytest.raises(HarnessError, match="does not fit MyNet"):
        models.build_model(models.file_spec(f"{network['arch']}:MyNet"), network["weights"])  # 8 features
    assert models.file_spec(f"{network['arch']}:MyNet").display_name == "MyNet"
    assert all(s.label is None for s in models.list_models())  # nothing was registered


@pytest.mark.parametrize("target, why", [
    ("{arch}", "expected FILE.py:ClassName"),
    ("{arch}:", "expected FILE.py:ClassName"),
    ("{folder}/missing.py:MyNet", "missing.py not found"),
    ("{arch}:Nope", "defines no Nope; its networks: MyNet"),
    ("{broken}:X", "importing broken.py failed (ZeroDivisionError: division by zero)"),
    ("{folder}:MyNet", "is a folder; pass the file"),
    ("{exits}:X", "importing exits.py failed (it called sys.exit(0))"),  # was a silent exit, status 0
    ("{vanishes}:X", "importing vanishes.py failed (it called os._exit(0))"),  # the process vanished, status 0
    ("{loop}:MyNet", "loop.py is a symlink loop; pass the file"),  # a RuntimeError traceback
    ("{fifo}:MyNet", "fifo.py is not a regular file (a FIFO, socket or device); pass the file"),  # 'not found'
    ("{arch}:__init__", "arch.py defines no __init__; its networks: MyNet"),  # the module's own: a TypeError in sweep
])
def test_a_wrong_target_is_one_line(network: dict[str, Path], target: str, why: str) -> None:
    broken = network["tmp"] / "broken.py"
    broken.write_text("x = 1 / 0\n")
    (network["tmp"] / "exits.py").write_text("import sys\nsys.exit(0)\n")
    (network["tmp"] / "vanishes.py").write_text("import os\nos._exit(0)\n")
    (network["tmp"] / "loop.py").symlink_to(network["tmp"] / "loop.py")
    os.mkfifo(network["tmp"] / "fifo.py")
    with pytest.raises(HarnessError, match=why.replace("(", r"\(").replace(")", r"\)")):
        models.file_spec(target.format(arch=network["arch"], folder=network["tmp"], broken=broken,
                                       exits=network["tmp"] / "exits.py", vanishes=network["tmp"] / "vanishes.py",
                                       loop=network["tmp"] / "loop.py", fifo=network["tmp"] / "fifo.py"))
    assert os._exit is REAL_EXIT  # put back after the import


def test_what_the_class_builds_must_be_a_network(network: dict[str, Path]) -> None:
    with pytest.raises(HarnessError, match="built a int, not a torch.nn.Module"):
        models.build_model(models.file_spec(f"{network['arch']}:not_a_network"))
    with pytest.raises(HarnessError, match=r"cannot be built with \{'width': 3\}.*--model-args"):
        models.build_model(models.file_spec(f"{network['arch']}:MyNet", kwargs={"width": 3}))
    (network["tmp"] / "raises.py").write_text(
        "from torch import nn\n\n\nclass Bad(nn.Module):\n    def __init__(self):\n        raise ValueError('no "
        "weights here')\n\n\nclass Quits(nn.Module):\n    def __init__(self):\n        raise SystemExit(3)\n\n\n"
        "class Vanishes(nn.Module):\n    def __init__(self):\n        import os\n        os._exit(4)\n")
    for name, why in (("Bad", "(ValueError: no weights here)"), ("Quits", "(it called sys.exit(3))"),
                      ("Vanishes", "(it called os._exit(4))")):
        with pytest.raises(HarnessError, match=f"--model {name}: building it failed {why}".replace("(", r"\(")
                           .replace(")", r"\)")):  # was a traceback, or a silent exit with the code's status
            models.build_model(models.file_spec(f"{network['tmp'] / 'raises.py'}:{name}"))


def test_test_demo_gives_a_file_network_its_table_1_row(network: dict[str, Path]) -> None:
    results = network["tmp"] / "R.json"
    code, out, err = run_main(test_demo.main, [
        "--year", "2026", "--model", f"{network['arch']}:MyNet", "--model-args", '{"feats": 6}',
        "--checkpoint", str(network["weights"]), "--data-range", "1", "--dataset", str(network["data"]),
        "--results", str(results), "--no-save", "--device", "cpu", "--runs", "1"])
    assert code == 0, err
    entry = read_results(results)["MyNet"]
    assert entry["year"] == 2026 and entry["data_range"] == 1.0 and entry["flops_counter"] == "fvcore"
    assert entry["checkpoint"]["path"] == str(network["weights"]) and entry["Mini_ave_psnr"] > 0
    assert entry["num_parameters"] == (3 * 6 * 9 + 6 + 6 * 48 * 9 + 48) / 1e6
    assert "Factsheet Table 1" in out and "MyNet" in out


@pytest.mark.parametrize("extra, why", [
    (["--model_id", "0"], "--model measures the network it names"),
    (["--model-args", "[1]"], "expected a JSON object"),
    (["--model-args", "{bad"], "not JSON"),
    (["--name", "a/b"], "give a plain name"),
    (["--data-range", "2"], "invalid choice"),
])
def test_test_demo_refuses_wrong_network_flags_in_one_line(network: dict[str, Path], extra: list[str],
                                                            why: str) -> None:
    code, _, err = run_main(test_demo.main, ["--model", f"{network['arch']}:MyNet", "--profile-only", *extra])
    assert code == 2 and err.count("\n") == 1 and why in err, err


@pytest.mark.parametrize("command", ["atlas", "sweep", "test_demo"])
def test_a_missing_network_checkpoint_is_refused_before_any_work(network: dict[str, Path], tmp_path: Path,
                                                                 command: str) -> None:
    """The atlas runs the --model network's sweep after every repository's: a mistyped --checkpoint was found an
    atlas later, as the network's failure. Every command refuses it at once."""
    from benchmark import sweep
    from benchmark.atlas.__main__ import main as atlas_main

    main, extra = {"atlas": (atlas_main, ["--profile-only", "--out", str(tmp_path / "atlas")]),
                   "sweep": (sweep.main, ["--profile-only", "--results", str(tmp_path / "R.json")]),
                   "test_demo": (test_demo.main, ["--profile-only"])}[command]
    before = sorted(tmp_path.iterdir())
    code, out, err = run_main(main, ["--model", f"{network['arch']}:MyNet", "--checkpoint", str(tmp_path / "gone.pth"),
                                     *extra])
    assert code == 2 and out == "" and err.startswith(f"error: --checkpoint {tmp_path / 'gone.pth'}: not found; "
                                                      "pass the file of the --model network's weights"), err
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize("command", ["atlas", "sweep", "test_demo"])
@pytest.mark.parametrize("target, args, why", [
    ("{others}:Needs", None, "Needs cannot be built with no arguments (missing 'feats', 'depth'); pass its "
                           "constructor's arguments with --model-args JSON"),
    ("{arch}:MyNet", '{"width": 3}', "MyNet cannot be built with {'width': 3} (got an unexpected keyword argument "
                                     "'width'); pass its constructor's arguments with --model-args JSON"),
    ("{others}:Plain", None, "Plain is not a torch.nn.Module; name the network's class"),
    ("{bare}:MyNet", None, "arch is not named .py; copy or link it as arch.py and pass that"),
])
def test_a_network_that_cannot_be_built_is_one_line_before_any_work(
        network: dict[str, Path], tmp_path: Path, command: str, target: str, args: str | None, why: str) -> None:
    """The atlas swept every repository before the network's own sweep failed on these (or on a bare traceback-like
    "NotAModule: NotAModule built a NotAModule"); a file without .py was "not a Python file"."""
    from benchmark import sweep
    from benchmark.atlas.__main__ import main as atlas_main

    others = network["tmp"] / "elsewhere" / "others.py"  # arch.py is imported already, by the fixture
    others.write_text(network["arch"].read_text() + "\n\nclass Needs(MyNet):\n    def __init__(self, feats, depth):\n"
                      "        super().__init__(feats)\n\n\nclass Plain:\n    pass\n")
    bare = network["tmp"] / "elsewhere" / "arch"
    bare.write_text(network["arch"].read_text())
    main, extra = {"atlas": (atlas_main, ["--profile-only", "--out", str(tmp_path / "atlas")]),
                   "sweep": (sweep.main, ["--profile-only", "--results", str(tmp_path / "R.json")]),
                   "test_demo": (test_demo.main, ["--profile-only"])}[command]
    before = sorted(tmp_path.iterdir())
    model = target.format(arch=network["arch"], others=others, bare=bare)
    code, out, err = run_main(main, ["--model", model, *(["--model-args", args] if args else []), *extra])
    assert code == 2 and out == "" and err.startswith(f"error: --model {model}: {why}; see python "), err
    assert err.count("\n") == 1 and sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize("case, why", [
    ("builds no network", "error: not_a_network: not_a_network built a int, not a torch.nn.Module"),
    ("fails to build", "error: --model MyNet: building it failed (ValueError: out_channels must be divisible by "
                       "groups); run it with python to see the whole error"),
    ("weights of another network", "does not fit MyNet: missing 4: body.0.weight, body.0.bias, body.2.weight (+1 "
                                   "more); unexpected 1: x"),
    ("a FIFO", "error: --checkpoint {fifo}: not a regular file (a FIFO, socket or device); pass the file"),
    ("a symlink loop", "error: --checkpoint {loop}: a symlink loop; pass the file"),
])
def test_the_atlas_builds_the_network_and_loads_its_weights_before_any_sweep(network: dict[str, Path], tmp_path: Path,
                                                                           case: str, why: str) -> None:
    """Each was found only by the network's own sweep, after every repository's (an hour), and a FIFO or a symlink
    loop as --checkpoint was called 'not found'."""
    from benchmark.atlas.__main__ import main as atlas_main

    torch.save({"x": torch.zeros(3)}, tmp_path / "other.pth")
    os.mkfifo(tmp_path / "fifo.pth")
    (tmp_path / "loop.pth").symlink_to(tmp_path / "loop.pth")
    flags = {"builds no network": ["--model", f"{network['arch']}:not_a_network"],
             "fails to build": ["--model", f"{network['arch']}:MyNet", "--model-args", '{"feats": NaN}'],
             "weights of another network": ["--model", f"{network['arch']}:MyNet", "--checkpoint",
                                            str(tmp_path / "other.pth")],
             "a FIFO": ["--model", f"{network['arch']}:MyNet", "--checkpoint", str(tmp_path / "fifo.pth")],
             "a symlink loop": ["--model", f"{network['arch']}:MyNet", "--checkpoint", str(tmp_path / "loop.pth")]}
    code, out, err = run_main(atlas_main, [*flags[case], "--profile-only", "--out", str(tmp_path / "atlas")])
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert why.format(fifo=tmp_path / "fifo.pth", loop=tmp_path / "loop.pth") in err
    assert not (tmp_path / "atlas").exists()


def test_a_relative_path_and_one_with_spaces_are_the_same_network(network: dict[str, Path], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    spaced = tmp_path / "my nets" / "my arch.py"
    spaced.parent.mkdir()
    spaced.write_text(network["arch"].read_text())
    (spaced.parent / "helper_block.py").write_text(BLOCK)
    monkeypatch.chdir(tmp_path)
    for target in (f"{spaced}:MyNet", "my nets/my arch.py:MyNet", f"{os.path.relpath(network['arch'])}:MyNet"):
        code, out, err = run_main(test_demo.main, ["--model", target, "--profile-only"])
        assert code == 0 and "MyNet: complexity" in out, (target, err)
        assert f" {(3 * 8 * 9 + 8 + 8 * 48 * 9 + 48) / 1e6:.6f} " in out  # MyNet(feats=8)'s params [M]


def test_a_network_without_checkpoint_is_timed_and_says_so(network: dict[str, Path]) -> None:
    """The line read "MyNet: no checkpoint --checkpoint; timing only, PSNR n/a"."""
    code, out, err = run_main(test_demo.main, [
        "--year", "2026", "--model", f"{network['arch']}:MyNet", "--dataset", str(network["data"]), "--no-save",
        "--results", str(network["tmp"] / "R.json"), "--device", "cpu", "--runs", "1"])
    assert code == 0, err
    assert "MyNet: no --checkpoint given; timing only, PSNR n/a" in out
    entry = read_results(network["tmp"] / "R.json")["MyNet"]
    assert entry["checkpoint"] is None and "Mini_ave_psnr" not in entry and entry["Mini_ave_runtime"] > 0


def test_network_flags_need_model() -> None:
    code, _, err = run_main(test_demo.main, ["--model_id", "0", "--name", "X", "--profile-only"])
    assert code == 2 and "--name is for a network given with --model FILE:Class" in err


def test_a_module_beside_the_file_that_the_harness_s_package_hides_is_named(tmp_path: Path) -> None:
    """arch.py imports its own models.py (or benchmark/): it runs with python, but here the harness's package of that
    name is found first; the line says so instead of "cannot import name 'Block' from 'models' … run it with
    python"."""
    (tmp_path / "models.py").write_text("from torch import nn\n\n\nclass Block(nn.Conv2d):\n    pass\n")
    (tmp_path / "arch.py").write_text("from torch import nn\n\nfrom models import Block\n\n\nclass Net(nn.Module):\n"
                                      "    pass\n")
    with pytest.raises(HarnessError) as err:
        models.file_spec(f"{tmp_path / 'arch.py'}:Net")
    line = str(err.value)
    assert line.startswith(f"--model {tmp_path / 'arch.py'}:Net: arch.py imports its models.py, but models here is "
                           "the harness's own package (") and "rename your models.py" in line
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "arch.py").write_text("import no_such_module_anywhere\n")
    with pytest.raises(HarnessError, match=r"importing arch\.py failed \(ModuleNotFoundError"):
        models.file_spec(f"{tmp_path / 'own' / 'arch.py'}:Net")  # a module missing everywhere: as before
