"""The Makefile documents itself: `make help` names every target and the real address."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

MAKEFILE = Path(__file__).resolve().parent.parent / "Makefile"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def targets() -> set[str]:
    return set(re.findall(r"^([a-z0-9][a-z0-9-]*):", MAKEFILE.read_text(), re.MULTILINE))


def help_text(*variables: str) -> str:
    return subprocess.run(
        ["make", "-s", "-f", str(MAKEFILE), "help", *variables],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_help_lists_every_target():
    listed = set(re.findall(r"^  make (\S+)", help_text(), re.MULTILINE))
    assert "e2e" in listed
    assert listed == targets()


def test_help_prints_the_address_run_serves_on():
    assert "http://127.0.0.1:8000" in help_text()
    assert "http://0.0.0.0:8080" in help_text("HOST=0.0.0.0:8080")
    assert "$(HOST)" not in help_text()


def test_phony_names_exactly_the_targets():
    phony = re.search(r"^\.PHONY:(.*)$", MAKEFILE.read_text(), re.MULTILINE).group(1).split()
    assert set(phony) == targets()
