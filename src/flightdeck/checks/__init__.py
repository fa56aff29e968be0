"""Built-in check kinds. Importing this package registers each of them."""

from flightdeck.checks.base import CHECKS, Check, CheckContext, Observation, check_class, register

__all__ = ["CHECKS", "Check", "CheckContext", "Observation", "check_class", "register"]

# Each built-in kind registers itself on import. Keep this list sorted.
from flightdeck.checks import builtin  # noqa: F401
