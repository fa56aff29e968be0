"""The demo estate: a sample payments service (:mod:`flightdeck.demo.service`), synthetic traffic,
local certificates, and the estate on disk that ``flightdeck demo`` runs.

Later capabilities reuse the service as their demo subject: start it with
:func:`flightdeck.demo.service.start_service` (in-process) or :class:`Estate` (a separate process).
"""

from flightdeck.demo.certs import DemoCertificates, ensure_certificates, make_certificates
from flightdeck.demo.errors import DemoBusyError, DemoError, DemoNotPreparedError
from flightdeck.demo.estate import DEFAULT_DIR, DemoPorts, Estate, EstateState, ServiceStatus
from flightdeck.demo.traffic import Action, TrafficGenerator, TrafficSettings, TrafficStats

__all__ = [
    "DEFAULT_DIR",
    "Action",
    "DemoBusyError",
    "DemoCertificates",
    "DemoError",
    "DemoNotPreparedError",
    "DemoPorts",
    "Estate",
    "EstateState",
    "ServiceStatus",
    "TrafficGenerator",
    "TrafficSettings",
    "TrafficStats",
    "ensure_certificates",
    "make_certificates",
]
