"""Fixtures of the end-to-end tier: a real browser for the site's pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from helpers import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright; skipped, saying what to install, when either is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: "
                                                                  "pip install -r requirements.txt")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run installs it), or set "
                    "ESR_CHROMIUM to a Chromium binary")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
