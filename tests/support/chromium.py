"""One headless Debian Chromium for the whole test session, shared by every test that drives a browser.

Playwright's sync API allows one `sync_playwright()` at a time in a process: a second one started while
the first is alive fails ("using Playwright Sync API inside the asyncio loop"), so every browser test
takes this session fixture instead of starting its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright import sync_api

    # scripts/install-system-deps.sh test installs it; a missing browser is a failure, not a skip
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/install-system-deps.sh test"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def sign_in(ctx: Any, username: str, password: str) -> Any:
    """A new page of the browser context, signed in on the login form and landed on the home page."""
    page = ctx.new_page()
    page.set_default_timeout(15000)
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))
    return page
