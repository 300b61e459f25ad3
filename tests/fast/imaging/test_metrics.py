"""benchmark.imaging.metrics against the official NTIRE figures and a literal copy of the official SSIM."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import cv2
import numpy as np
import pytest
import torch
from helpers import SHARED, shared_file

from benchmark.imaging.images import modcrop, read_image
from benchmark.imaging.metrics import psnr, psnr_torch, rgb_to_y, rgb_to_y_torch, ssim, ssim_torch

SET5 = ("baby", "bird", "butterfly", "head", "woman")
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def official_ssim(img1: np.ndarray, img2: np.ndarray, border: int) -> float:
    """The official ``calculate_ssim``: five full 11×11 ``filter2D`` passes per channel."""

    def one_channel(x: np.ndarray, y: np.ndarray) -> float:
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        x, y = x.astype(np.float64), y.astype(np.float64)
        kernel = cv2.getGaussianKernel(11, 1.5)
        window = np.outer(kernel, kernel.transpose())
        mu1 = cv2.filter2D(x, -1, window)[5:-5, 5:-5]
        mu2 = cv2.filter2D(y, -1, window)[5:-5, 5:-5]
        mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
        sigma1_sq = cv2.filter2D(x**2, -1, window)[5:-5, 5:-5] - mu1_sq
        sigma2_sq = cv2.filter2D(y**2, -1, window)[5:-5, 5:-5] - mu2_sq
        sigma12 = cv2.filter2D(x * y, -1, window)[5:-5, 5:-5] - mu1_mu2
        ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
        return ssim_map.mean()

    h, w = img1.shape[:2]
    img1, img2 = img1[border : h - border, border : w - border], img2[border : h - border, border : w - border]
    if img1.ndim == 2:
        return one_channel(img1, img2)
    return np.array([one_channel(img1[:, :, i], img2[:, :, i]) for i in range(3)]).mean()


def noisy_pair(rng: np.random.Generator, shape: tuple[int, ...], noise: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """A smooth-ish HR image and an SR image that differs from it by clipped noise."""
    hr = cv2.GaussianBlur(rng.integers(0, 256, shape, dtype=np.uint8), (0, 0), 2.0)
    sr = np.clip(hr.astype(np.int16) + rng.integers(-noise, noise + 1, shape), 0, 255).astype(np.uint8)
    return sr, hr


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(shared_file("reference", "metrics.json").read_text())


@pytest.mark.parametrize("name", SET5)
@pytest.mark.parametrize("model", ["rfdn", "exnet"])
def test_matches_official_figures_on_set5(reference: dict, model: str, name: str) -> None:
    expected = reference[model]["Set5"]["images"][name]
    sr = read_image(SHARED / "reference" / "sr" / model / "Set5" / f"{name}.png")
    hr = modcrop(read_image(SHARED / "data" / "Set5" / "HR" / f"{name}.png"), 4)
    sr_y, hr_y = rgb_to_y(sr), rgb_to_y(hr)
    assert psnr(sr, hr) == pytest.approx(expected["psnr"], abs=1e-6)
    assert ssim(sr, hr) == pytest.approx(expected["ssim"], abs=1e-6)
    assert psnr(sr_y, hr_y) == pytest.approx(expected["psnr_y"], abs=1e-6)
    assert ssim(sr_y, hr_y) == pytest.approx(expected["ssim_y"], abs=1e-6)


@pytest.mark.parametrize("border", [0, 4])
@pytest.mark.parametrize("shape", [(11, 11, 3), (23, 17, 3), (37, 50), (151, 45, 3), (160, 133)])
def test_ssim_matches_official_filter2d(shape: tuple[int, ...], border: int) -> None:
    if min(shape[:2]) - 2 * border < 11:
        shape = (shape[0] + 2 * border, shape[1] + 2 * border, *shape[2:])
    rng = np.random.default_rng(sum(shape) * 10 + border)
    for noise in (3, 60):
        sr, hr = noisy_pair(rng, shape, noise)
        assert abs(ssim(sr, hr, border) - official_ssim(sr, hr, border)) < 1e-10
    unrelated = rng.integers(0, 256, shape, dtype=np.uint8)
    assert abs(ssim(unrelated, hr, border) - official_ssim(unrelated, hr, border)) < 1e-10


def fused_y(r: int, g: int, b: int) -> int:
    """The reference machine's ``np.dot``: an OpenBLAS ddot, fma(b, wB, fma(g, wG, r·wR)), then /255 + 16."""
    acc = float(Fraction(r) * Fraction(65.481))
    acc = float(Fraction(g) * Fraction(128.553) + Fraction(acc))
    acc = float(Fraction(b) * Fraction(24.966) + Fraction(acc))
    return int(np.round(acc / 255.0 + 16.0))


def test_rgb_to_y_on_every_colour_follows_the_fused_dot() -> None:
    levels = np.arange(256, dtype=np.uint8)
    cube = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(4096, 4096, 3)
    y = rgb_to_y(cube)
    assert y.dtype == np.uint8 and y.shape == (4096, 4096)
    plain = cube[:, :, 0] * 65.481 + cube[:, :, 1] * 128.553 + cube[:, :, 2] * 24.966
    plain = plain / 255.0 + 16.0
    boundary = np.abs(plain - np.floor(plain) - 0.5) < 1e-6
    # away from a rounding boundary every dot product rounds alike
    np.testing.assert_array_equal(y[~boundary], plain[~boundary].round().astype(np.uint8))
    # at the boundary, the fused chain decides (27 colours round differently from a plain sum)
    colours = cube[boundary]
    assert 100 < len(colours) < 1000
    np.testing.assert_array_equal(y[boundary], [fused_y(*map(int, c)) for c in colours])
    assert (y[boundary] != plain[boundary].round()).sum() == 27
    np.testing.assert_array_equal(rgb_to_y_torch(torch.from_numpy(cube)).numpy(), y)


def test_identical_images() -> None:
    img = np.random.default_rng(1).integers(0, 256, (40, 36, 3), dtype=np.uint8)
    assert psnr(img, img) == math.inf
    assert ssim(img, img) == 1.0
    assert ssim(img[:, :, 0], img[:, :, 0]) == 1.0


@pytest.mark.parametrize("offset", [1, 3, 17])
def test_constant_offset_psnr_is_exact(offset: int) -> None:
    hr = np.random.default_rng(offset).integers(0, 256 - offset, (32, 48, 3), dtype=np.uint8)
    assert psnr(hr + np.uint8(offset), hr) == 20 * math.log10(255 / offset)


def test_border_is_excluded() -> None:
    hr = np.random.default_rng(2).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    sr = hr.copy()
    sr[:4], sr[-4:], sr[:, :4], sr[:, -4:] = 0, 255, 7, 9
    assert psnr(sr, hr) == math.inf
    assert ssim(sr, hr) == 1.0
    assert psnr(sr, hr, border=3) < 20
    sr[4, 4, 0] = hr[4, 4, 0] ^ 1
    assert psnr(sr, hr) == 20 * math.log10(255 / math.sqrt(1 / (32 * 40 * 3)))
    assert ssim(sr, hr) < 1.0


def test_invalid_inputs_raise() -> None:
    a = np.zeros((40, 48, 3), np.uint8)
    for fn in (psnr, ssim):
        with pytest.raises(ValueError, match=r"\(40, 48, 3\).*\(40, 44, 3\)"):
            fn(a, a[:, :44])
        with pytest.raises(ValueError, match="uint8"):
            fn(a.astype(np.float64), a.astype(np.float64))
    with pytest.raises(ValueError, match="less than 11"):
        ssim(a[:18], a[:18])
    with pytest.raises(ValueError, match=r"\(40, 48, 3\).*\(40, 44, 3\)"):
        psnr_torch(torch.from_numpy(a), torch.from_numpy(a[:, :44]))
    with pytest.raises(ValueError, match="H×W×3"):
        rgb_to_y(a[:, :, 0])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(64, 52, 3), (45, 71), (20, 30, 3)])
def test_torch_matches_numpy(device: str, shape: tuple[int, ...]) -> None:
    sr, hr = noisy_pair(np.random.default_rng(sum(shape)), shape)
    sr_t, hr_t = torch.from_numpy(sr).to(device), torch.from_numpy(hr).to(device)
    assert psnr_torch(sr_t, hr_t) == psnr(sr, hr)
    assert abs(ssim_torch(sr_t, hr_t) - ssim(sr, hr)) < 1e-10
    assert psnr_torch(hr_t, hr_t) == math.inf
    assert ssim_torch(hr_t, hr_t) == pytest.approx(1.0, abs=1e-15)
    if len(shape) == 3:
        np.testing.assert_array_equal(rgb_to_y_torch(sr_t).cpu().numpy(), rgb_to_y(sr))
