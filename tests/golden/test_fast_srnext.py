"""SRneXtFast, the fast SRneXt: same checkpoint, same outputs as the faithful network (no timing here)."""

from __future__ import annotations

import os
import pickle
import platform
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import models.kernels.srnext as kernels
import models.team05_SRneXt as team05
from benchmark.imaging.images import read_image, to_tensor, to_uint8
from benchmark.measure import loop
from benchmark.measure.deploy import BACKENDS, make_backend
from models import create_model, get_spec
from models.team05_SRneXt import SRneXt, SRneXtFast

SET5 = ("baby", "bird", "butterfly", "head", "woman")
CHECKPOINT = Path("reference") / "model_zoo" / "team05_exnet.pth"


def _pair(seed: int) -> tuple[SRneXt, SRneXtFast]:
    """The faithful and the fast network with the same random weights, frozen as create_model leaves them."""
    torch.manual_seed(seed)
    faithful = create_model(5)
    fast = create_model(5, fast=True)
    fast.load_state_dict(faithful.state_dict(), strict=True)
    return faithful, fast


def test_fast_variant_is_registered() -> None:
    assert get_spec(5).fast_builder is SRneXtFast


def test_same_parameters_and_state_dict_keys() -> None:
    faithful, fast = _pair(0)
    assert sum(p.numel() for p in fast.parameters()) == sum(p.numel() for p in faithful.parameters()) == 244_558
    faithful_state, fast_state = faithful.state_dict(), fast.state_dict()
    assert list(fast_state) == list(faithful_state)
    assert all(fast_state[k].shape == v.shape for k, v in faithful_state.items())


def test_derived_buffers_stay_out_of_the_state_dict_and_follow_loading() -> None:
    faithful, fast = _pair(1)
    tail = fast.tail[0]
    mean = 255.0 * torch.tensor([0.4690, 0.4490, 0.4036])
    assert torch.allclose(tail.folded_bias, faithful.tail[0].bias + mean.repeat_interleave(16))
    state = {k: v + 1 if k == "tail.0.bias" else v for k, v in faithful.state_dict().items()}
    fast.load_state_dict(state)
    assert torch.allclose(tail.folded_bias, faithful.tail[0].bias + 1 + mean.repeat_interleave(16))
    assert pickle.loads(pickle.dumps(fast)).tail[0].folded_bias.shape == (48,)  # the post hook pickles


@pytest.mark.parametrize("shape", [(1, 3, 17, 23), (2, 3, 9, 31), (1, 3, 1, 1), (1, 3, 40, 7), (3, 3, 2, 3),
                                   (1, 3, 7, 5), (1, 3, 4, 300), (1, 3, 90, 2)])
def test_random_weights_agree_at_odd_sizes(shape: tuple[int, ...]) -> None:
    """Odd sizes, one-pixel and narrow images: the shifts' and mixers' zero borders must match."""
    faithful, fast = _pair(sum(shape))
    x = torch.rand(shape, generator=torch.Generator().manual_seed(2)) * 255
    with torch.inference_mode():
        expected, got = faithful(x), fast(x)
    assert got.shape == expected.shape == (shape[0], 3, 4 * shape[2], 4 * shape[3])
    assert got.is_contiguous()
    assert (got - expected).abs().max().item() <= 1e-3


def test_the_cpu_kernel_runs_and_gives_the_same_output_at_every_thread_count() -> None:
    """Each thread recomputes its slab's halo rows itself, so the split changes no value."""
    _, fast = _pair(4)
    assert kernels.cpu_kernel(35, 15) is not None, "the CPU kernel did not build here (see the warning)"
    h = torch.rand(2, 35, 40, 45, generator=torch.Generator().manual_seed(5))
    threads = torch.get_num_threads()
    outputs = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            with torch.inference_mode():
                outputs.append(fast.body(h))
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(outputs[0], other) for other in outputs[1:])


def test_any_memory_layout_of_the_input() -> None:
    """Channels-last, strided (a tile of a larger image, as --tile cuts it), transposed and broadcast inputs."""
    faithful, fast = _pair(16)
    x = torch.rand(2, 3, 20, 26, generator=torch.Generator().manual_seed(17)) * 255
    views = [x.contiguous(memory_format=torch.channels_last), x[:, :, 3:17, 5:24], x[:, :, ::2, ::3],
             x.transpose(2, 3), x[:1].expand(3, 3, 20, 26)]
    with torch.inference_mode():
        for view in views:
            assert (fast(view) - faithful(view.contiguous())).abs().max().item() <= 1e-3


def test_tiled_forward_agrees() -> None:
    """The official overlapping tiles (test_demo --tile) through the kernel: each tile a strided view."""
    faithful, fast = _pair(18)
    x = torch.rand(1, 3, 45, 70, generator=torch.Generator().manual_seed(19)) * 255
    with torch.inference_mode():
        expected, got = loop.forward(faithful, x, tile=40), loop.forward(fast, x, tile=40)
    assert loop.forwards_per_image(45, 70, 40) == 10  # 2 rows × 5 columns of tiles
    assert (got - expected).abs().max().item() <= 1e-3


def test_gradients_for_the_input_run_the_operators(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel has no backward: an input that requires gradients runs the operators under autograd, and its
    gradient equals the faithful network's; without one, in any grad mode, the kernel runs, without autograd."""
    faithful, fast = _pair(20)
    kernel = team05._FastBody._kernel
    calls: list[int] = []
    monkeypatch.setattr(team05._FastBody, "_kernel", lambda self, h: calls.append(1) or kernel(self, h))
    x = torch.rand(1, 3, 9, 13, generator=torch.Generator().manual_seed(21)) * 255
    weight = torch.rand(1, 3, 36, 52, generator=torch.Generator().manual_seed(22))
    grads = []
    for model in (faithful, fast):
        leaf = x.clone().requires_grad_(True)
        (model(leaf) * weight).sum().backward()
        grads.append(leaf.grad)
    assert calls == []
    assert (grads[1] - grads[0]).abs().max().item() <= 1e-4 * grads[0].abs().max().item()
    for mode in (torch.enable_grad, torch.no_grad, torch.inference_mode):
        with mode():
            assert not fast(x).requires_grad
    with torch.no_grad():
        fast(x.clone().requires_grad_(True))
    assert calls == [1, 1, 1, 1]


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_other_precisions_run_the_operators(dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel is float32: a network cast to another precision runs the operators, in that precision."""
    faithful, fast = _pair(23)
    fast = fast.to(dtype)
    monkeypatch.setattr(team05._FastBody, "_kernel", lambda self, h: pytest.fail("the float32 kernel ran"))
    x = torch.rand(1, 3, 10, 12, generator=torch.Generator().manual_seed(24)) * 255
    with torch.inference_mode():
        got, expected = fast(x.to(dtype)), faithful(x)
    assert got.dtype == dtype
    tolerance = 1e-3 if dtype == torch.float64 else 8.0  # bfloat16 keeps 8 bits of a value up to 255
    assert (got.float() - expected).abs().max().item() <= tolerance


@pytest.mark.parametrize("shape", [(1, 3, 17, 23), (2, 3, 9, 31), (1, 3, 1, 1), (1, 3, 40, 70)])
def test_kernel_and_pytorch_operators_agree(shape: tuple[int, ...]) -> None:
    """The compiled body against the same layers as PyTorch operators (what a GPU, an export or a machine without
    a compiler runs): widths below, at and above the kernel's vector step, one-row and one-pixel images."""
    faithful, fast = _pair(sum(shape) + 1)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(6)) * 255
    with torch.inference_mode():
        expected, kernel = faithful(x), fast(x)
        fast.body.use_cpu_kernel = False
        operators = fast(x)
    assert operators.shape == expected.shape and operators.is_contiguous()
    assert (operators - expected).abs().max().item() <= 1e-3
    assert (operators - kernel).abs().max().item() <= 1e-3


def test_an_export_traces_the_pytorch_operators(monkeypatch: pytest.MonkeyPatch) -> None:
    _, fast = _pair(11)
    calls: list[int] = []
    monkeypatch.setattr(team05._FastBody, "_kernel", lambda self, h: calls.append(1))
    x = torch.rand(1, 3, 9, 10) * 255
    with torch.inference_mode():
        fast(x)
        assert calls == [1]
        monkeypatch.setattr(torch.compiler, "is_exporting", lambda: True)
        fast(x)
    assert calls == [1]


def test_without_a_compiler_the_operators_run_after_one_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    from torch.utils import cpp_extension

    def no_compiler(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Error building extension\ng++: command not found")

    monkeypatch.setattr(kernels, "_kernels", {})
    monkeypatch.setattr(cpp_extension, "load", no_compiler)
    why = r"srnext_body\.cpp\) could not be built or loaded in .*: g\+\+: command not found; the fast"
    with pytest.warns(RuntimeWarning, match=why):
        faithful, fast = _pair(12)  # the build is tried when the network is built, never in a (timed) forward
    assert kernels._kernels == {(35, 15): None}
    x = torch.rand(1, 3, 11, 13, generator=torch.Generator().manual_seed(13)) * 255
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning, not one per forward
        with torch.inference_mode():
            got = fast(x)
    with torch.inference_mode():
        assert (got - faithful(x)).abs().max().item() <= 1e-3


def test_concurrent_builds_a_killed_build_and_a_damaged_library(tmp_path: Path) -> None:
    """Sweep workers may build into one cache at once, over a build that was killed (PyTorch's lock file left
    behind, on which PyTorch alone would wait forever) and a library cut short (whose loading would crash the
    process): each worker gets the kernel, and the cache ends with a whole library."""
    assert kernels.cpu_kernel(35, 15) is not None, "the CPU kernel did not build here (see the warning)"
    built = kernels.kernel_folder(35, 15)
    folder = tmp_path / built.name
    shutil.copytree(built, folder, ignore=shutil.ignore_patterns("*lock"))  # the object file kept: a link only
    library = folder / f"{built.name}.so"
    whole = library.read_bytes()
    library.write_bytes(whole[: len(whole) // 2])
    (folder / "lock").touch()
    script = ("import warnings, models.kernels.srnext as kernels\n"
              "warnings.simplefilter('error')\n"
              "print(kernels.cpu_kernel(35, 15) is not None)\n")
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path), "PYTHONPATH": str(Path(team05.__file__).parents[1])}
    workers = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0 and out.split() == ["True"], err[-2000:]
    assert library.stat().st_size == len(whole) and not kernels._damaged(library)
    assert not (folder / "lock").exists()


def test_another_library_in_the_cache_is_one_warning_not_a_traceback(tmp_path: Path) -> None:
    """A cached library that loads but is not the kernel (another library copied under its name, newer than its
    sources, so the build finds it up to date) was an AttributeError traceback when the fast network was built."""
    import _ctypes

    assert kernels.cpu_kernel(35, 15) is not None, "the CPU kernel did not build here (see the warning)"
    built = kernels.kernel_folder(35, 15)
    folder = tmp_path / built.name
    shutil.copytree(built, folder, ignore=shutil.ignore_patterns("*lock"))
    shutil.copyfile(_ctypes.__file__, folder / f"{built.name}.so")  # an ELF library, whole, of another kind
    script = ("import warnings, models.kernels.srnext as kernels\n"
              "with warnings.catch_warnings(record=True) as caught:\n"
              "    warnings.simplefilter('always')\n"
              "    print(kernels.cpu_kernel(35, 15))\n"
              "print(len(caught), caught[0].message)\n")
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path), "PYTHONPATH": str(Path(team05.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    first, second = done.stdout.splitlines()
    assert first == "None" and second.startswith("1 SRneXt's CPU kernel (srnext_body.cpp) could not be built or ")
    assert f"{built.name}.so holds no srnext_body operator (another library under its name); remove {folder} to " \
        "build it again; the fast network runs PyTorch operators instead" in second


def _small_pair() -> tuple[SRneXt, SRneXtFast]:
    """One layer of each: what an export or a compilation of the whole network does, in seconds."""
    torch.manual_seed(7)
    faithful = SRneXt(n_l=1).eval()
    fast = SRneXtFast(n_l=1).eval()
    fast.load_state_dict(faithful.state_dict())
    return faithful, fast


@pytest.mark.parametrize("backend", ["onnxruntime", "compile"])
def test_exported_and_compiled_fast_network_agree_at_every_size(backend: str) -> None:
    """One dynamic-size ONNX export, one compilation for any size: no per-size graph, outputs equal to round-off."""
    why = BACKENDS[backend].missing(torch.device("cpu"), "fp32")
    if why is not None:
        pytest.skip(f"{backend}: {why}")
    faithful, fast = _small_pair()
    runner = make_backend(backend, torch.device("cpu"), "fp32")
    call = runner.prepare(fast)
    for shape in [(1, 3, 20, 18), (1, 3, 17, 29)]:
        x = torch.rand(shape, generator=torch.Generator().manual_seed(8)) * 255
        runner.settle(lambda: call(x), shape)
        with torch.inference_mode():
            assert (call(x) - faithful(x)).abs().max().item() <= 1e-3
    if backend == "onnxruntime":
        assert runner.describe()["export"] == "dynamic height and width"


def test_the_export_has_no_transposes_or_slices() -> None:
    """What ONNX Runtime ran faster: each norm as reductions over the channels (no Transpose pair around it) and each
    shift as its depthwise convolution (no Pad, Slice and Concat copies)."""
    onnx = pytest.importorskip("onnx")
    why = BACKENDS["onnxruntime"].missing(torch.device("cpu"), "fp32")
    if why is not None:
        pytest.skip(f"onnxruntime: {why}")
    from benchmark.measure.deploy import _onnx

    _, fast = _small_pair()
    proto = onnx.load_from_string(_onnx(fast, torch.float32, torch.device("cpu"), "fast")[0])
    ops = [node.op_type for node in proto.graph.node]
    assert not {"Transpose", "Slice", "Concat", "Pad", "LayerNormalization"} & set(ops)
    assert ops.count("ReduceMean") == 4 and ops.count("Conv") == 2 + 6 + 2  # head, tail; 6 per layer; 2 shifts


def test_plain_call_needs_no_grad_context_and_leaves_the_input_alone() -> None:
    torch.manual_seed(3)
    fast = SRneXtFast()  # straight from the constructor: parameters still require grad
    x = torch.rand(1, 3, 12, 10) * 255
    before = x.clone()
    out = fast(x)
    assert out.shape == (1, 3, 48, 40) and not out.requires_grad
    assert torch.equal(x, before)


def test_set5_outputs_match_the_faithful_network(shared: Path) -> None:
    faithful = create_model(5, checkpoint=shared / CHECKPOINT)
    fast = create_model(5, checkpoint=shared / CHECKPOINT, fast=True)
    max_diff, same, total = 0.0, 0, 0
    for name in SET5:
        lr = to_tensor(read_image(shared / "data" / "Set5" / "LR_bicubic" / "X4" / f"{name}x4.png"), 255)
        with torch.inference_mode():
            expected, got = faithful(lr), fast(lr)
        max_diff = max(max_diff, (got - expected).abs().max().item())
        a, b = to_uint8(expected, 255), to_uint8(got, 255)
        same += int((a == b).sum())
        total += a.size
        assert np.abs(a.astype(int) - b).max() <= 1
    assert max_diff <= 1e-3
    assert same / total >= 0.9999


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="AVX2 is an x86-64 instruction set")
def test_the_avx2_build_agrees_too(tmp_path: Path) -> None:
    """The build a processor without AVX-512 gets (8-lane vectors, smaller register blocks), forced where PyTorch
    allows it: ATEN_CPU_CAPABILITY=avx2 in a process of its own."""
    script = tmp_path / "avx2.py"
    script.write_text(
        "import torch\n"
        "import models.kernels.srnext as kernels\n"
        "from models import create_model\n"
        "if torch.backends.cpu.get_cpu_capability() != 'AVX2':\n"
        "    raise SystemExit('skip: ' + torch.backends.cpu.get_cpu_capability())\n"
        "assert kernels.cpu_kernel(35, 15) is not None\n"
        "torch.manual_seed(14)\n"
        "faithful, fast = create_model(5), create_model(5, fast=True)\n"
        "fast.load_state_dict(faithful.state_dict())\n"
        "x = torch.rand(2, 3, 19, 37, generator=torch.Generator().manual_seed(15)) * 255\n"
        "with torch.inference_mode():\n"
        "    print((fast(x) - faithful(x)).abs().max().item())\n")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "PYTHONPATH": str(Path(team05.__file__).parents[1])}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    if done.returncode == 1 and done.stderr.startswith("skip: "):
        pytest.skip(f"this processor has no AVX2 (PyTorch's capability here: {done.stderr[6:].strip()})")
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.split()[-1]) <= 1e-3
