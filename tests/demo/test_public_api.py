"""The demo's public names stay complete and importable."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("name", ["flightdeck.demo", "flightdeck.demo.service"])
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.__all__ lists {public!r}, which does not exist"


def test_the_service_package_does_not_pull_in_flightdeck_server_or_web() -> None:
    # The service runs as its own small process; it must not drag the cockpit in.
    import subprocess
    import sys

    code = (
        "import sys, flightdeck.demo.service.__main__; "
        "print(sorted(m for m in sys.modules if m.startswith(('flightdeck.web', 'flightdeck.server', 'fastapi'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
