"""A part of the service that cannot be imported stops the service at start instead of quietly vanishing.

Each case runs a real Python process in which one module cannot be imported (its `sys.modules` entry is
None, which is what Python does for a package that is missing or broken: `import` raises ImportError)
and checks that the web app and the `dossier` command refuse to start, naming that module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vault.core import Vault

ROOT = Path(__file__).resolve().parents[2]

# the search engine's library, the search service the search page and index use, a workflow's service, and
# a module every page needs (before, an ImportError there left an app with the API only, and no pages)
BROKEN = ["whoosh", "indexer.service", "vault.services.holds", "web.pages.i18n",
          "zxingcpp"]  # the scanning intake's QR reader

_APP = """
import sys
sys.modules[sys.argv[1]] = None  # from here on, importing it raises ImportError
from web import create_app
app = create_app({"home": sys.argv[2]})
print("STARTED with", sorted(app.blueprints))
"""

_CLI = """
import sys
sys.modules[sys.argv[1]] = None  # from here on, importing it raises ImportError
from web.cli import main
main(["--help"])
"""


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=ROOT)


def test_the_web_app_starts_with_every_page_area_when_nothing_is_missing(vault: Vault) -> None:
    done = _python(_APP, "no-such-module-is-poisoned", str(vault.settings.home))
    assert done.returncode == 0, done.stderr
    for area in ("search", "holds", "checkouts", "destructions", "api"):
        assert f"'{area}'" in done.stdout


@pytest.mark.parametrize("module", BROKEN)
def test_the_web_app_refuses_to_start_when_a_module_it_needs_cannot_be_imported(vault: Vault, module: str) -> None:
    done = _python(_APP, module, str(vault.settings.home))
    assert done.returncode != 0 and "STARTED" not in done.stdout, done.stdout
    assert "ImportError" in done.stderr or "ModuleNotFoundError" in done.stderr, done.stderr
    assert module in done.stderr


@pytest.mark.parametrize("module", BROKEN)
def test_the_dossier_command_refuses_to_start_when_a_module_it_needs_cannot_be_imported(module: str) -> None:
    done = _python(_CLI, module)
    assert done.returncode != 0 and "Usage:" not in done.stdout, done.stdout
    assert "ImportError" in done.stderr or "ModuleNotFoundError" in done.stderr, done.stderr
    assert module in done.stderr
