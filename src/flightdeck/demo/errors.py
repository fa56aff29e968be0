"""Errors of the demo estate.

::

    FlightdeckError
    └── DemoError                  the demo could not be prepared, started or reached
        ├── DemoNotPreparedError   no demo in that folder yet (also a NotFoundError: exit 2)
        └── DemoBusyError          another ``flightdeck demo`` is running in that folder
"""

from __future__ import annotations

from flightdeck.errors import FlightdeckError, NotFoundError

__all__ = ["DemoBusyError", "DemoError", "DemoNotPreparedError"]


class DemoError(FlightdeckError):
    """The demo estate could not be prepared, started, stopped or reached."""


class DemoNotPreparedError(DemoError, NotFoundError):
    """The folder holds no prepared demo; run ``flightdeck demo`` first."""


class DemoBusyError(DemoError):
    """Another ``flightdeck demo`` holds the folder's lock."""
