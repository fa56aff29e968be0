"""The public names stay complete: everything a package exports is importable and listed."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import flightdeck
from flightdeck import errors

PACKAGES = [
    "flightdeck",
    "flightdeck.config",
    "flightdeck.store",
    "flightdeck.checks",
    "flightdeck.errors",
    "flightdeck.evidence",
    "flightdeck.secret",
    "flightdeck.clock",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.__all__ lists {public!r}, which does not exist"


def test_every_error_is_exported_and_drawn_in_the_tree() -> None:
    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.FlightdeckError)
    ]
    doc = errors.__doc__ or ""
    for cls in classes:
        assert cls.__name__ in errors.__all__
        assert cls.__name__ in flightdeck.__all__
        assert cls.__name__ in doc, f"{cls.__name__} is missing from the tree in flightdeck.errors"


def _all_modules() -> list[str]:
    names = ["flightdeck"]
    for info in pkgutil.walk_packages(flightdeck.__path__, "flightdeck."):
        # The demo's sample service is a program of its own, with its own errors.
        if not info.name.startswith("flightdeck.demo.service") and not info.name.endswith("__main__"):
            names.append(info.name)
    return names


def test_every_error_anywhere_in_the_package_is_drawn_in_the_tree() -> None:
    doc = errors.__doc__ or ""
    missing = []
    for name in _all_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not issubclass(cls, errors.FlightdeckError):
                continue
            if cls.__name__ not in doc:
                missing.append(f"{name}.{cls.__name__}")
            for base in cls.__bases__:
                if issubclass(base, errors.FlightdeckError) and base.__name__ not in doc:
                    missing.append(f"{name}.{cls.__name__} base {base.__name__}")
    assert not missing, "errors missing from the tree in flightdeck.errors: " + ", ".join(missing)
