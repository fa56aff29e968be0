"""The demo estate on disk (``.flightdeck/demo/``) and the payments service process in it.

::

    .flightdeck/demo/
    ├── estate.json            ports and options of this estate (reused at the next start)
    ├── flightdeck-demo.yaml   the generated flightdeck configuration
    ├── flightdeck.db          flightdeck's own store (SQLite)
    ├── payments.db            the payments service's database
    ├── certs/                 local CA (ca.pem), server chain and key
    ├── admin-token            the service's admin token (faults), mode 0600
    ├── admin-password         the cockpit's admin password, mode 0600
    ├── service.pid            the running service's pid
    ├── service.log            the service's output
    ├── ledger-signing.key     Ed25519 key signing the ledger's checkpoints (.pub next to it)
    ├── backup.key             the backups' AES-256 key (64 hex digits), mode 0600
    ├── backups/               encrypted backups of payments.db (manifest.json written last)
    ├── checkpoints/           the ledger's signed checkpoints, exported outside the database
    ├── statements/            the gateway statements the demo writes (one per day)
    └── reports/               reconciliation and DR drill reports (Markdown, HTML, PDF, CSV)
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
from pydantic import BaseModel, ConfigDict

from flightdeck.config import load_config
from flightdeck.demo.certs import ensure_certificates
from flightdeck.demo.config import config_values, render_config
from flightdeck.demo.errors import DemoBusyError, DemoError, DemoNotPreparedError
from flightdeck.demo.process import pid_alive, read_pid, spawn_service, terminate
from flightdeck.demo.servers import LocalServer, ServerKind, probe_servers
from flightdeck.demo.service.faults import FaultName

__all__ = [
    "DEFAULT_DIR",
    "PREFERRED_PORTS",
    "DemoPorts",
    "Estate",
    "EstateState",
    "ServiceStatus",
    "read_or_create_secret",
]

DEFAULT_DIR = Path(".flightdeck") / "demo"
LOGIN_LIMIT = 5  # login attempts per client and account ...
LOGIN_WINDOW = 20.0  # ... per this many seconds


class DemoPorts(BaseModel):
    model_config = ConfigDict(frozen=True)

    cockpit: int
    service_http: int
    service_https: int


PREFERRED_PORTS = DemoPorts(cockpit=8450, service_http=8460, service_https=8461)


class EstateState(BaseModel):
    """``estate.json``: what ``flightdeck demo`` chose, read again by ``demo service`` and ``demo fault``."""

    model_config = ConfigDict(frozen=True)

    version: int = 1
    ports: DemoPorts
    chaos_every: float
    interval: float = 10.0
    servers: list[ServerKind]


class ServiceStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    running: bool
    pid: int | None
    healthy: bool | None  # /health answered 200 (None: not asked, the process is not running)
    http_url: str
    https_url: str
    log_file: Path


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral(taken: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            return port


def _choose(requested: int | None, previous: int | None, preferred: int, taken: set[int]) -> int:
    """An explicit port as given (0: any free one); else the last one or the preferred one, if free."""
    if requested is not None:
        return requested if requested else _ephemeral(taken)
    for candidate in (previous, preferred):
        if candidate and candidate not in taken and _free(candidate):
            return candidate
    return _ephemeral(taken)


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")


def read_or_create_secret(path: Path, nbytes: int = 18) -> str:
    with contextlib.suppress(OSError):
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    value = secrets.token_urlsafe(nbytes)
    _write_secret(path, value)
    return value


class Estate:
    """One demo folder. Paths are absolute, so the generated configuration works from anywhere."""

    def __init__(self, directory: Path = DEFAULT_DIR) -> None:
        self.dir = directory.expanduser().resolve()

    @property
    def config_file(self) -> Path:
        return self.dir / "flightdeck-demo.yaml"

    @property
    def state_file(self) -> Path:
        return self.dir / "estate.json"

    @property
    def db_file(self) -> Path:
        return self.dir / "payments.db"

    @property
    def store_file(self) -> Path:
        return self.dir / "flightdeck.db"

    @property
    def certs_dir(self) -> Path:
        return self.dir / "certs"

    @property
    def token_file(self) -> Path:
        return self.dir / "admin-token"

    @property
    def password_file(self) -> Path:
        return self.dir / "admin-password"

    @property
    def pid_file(self) -> Path:
        return self.dir / "service.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / "service.log"

    @property
    def signing_key_file(self) -> Path:
        return self.dir / "ledger-signing.key"

    @property
    def backup_key_file(self) -> Path:
        return self.dir / "backup.key"

    @property
    def statements_dir(self) -> Path:
        return self.dir / "statements"

    @property
    def lock_file(self) -> Path:
        return self.dir / "demo.lock"

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.store_file}"

    # -- preparing --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Held while ``flightdeck demo`` runs, so two never share a folder."""
        import fcntl  # POSIX only; imported here so that the rest of the CLI loads everywhere

        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
                raise DemoBusyError(
                    f"another `flightdeck demo` (pid {holder}) is running in {self.dir}"
                ) from None
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            os.close(fd)

    def load(self) -> EstateState:
        try:
            return EstateState.model_validate_json(self.state_file.read_text(encoding="utf-8"))
        except OSError:
            raise DemoNotPreparedError(f"no demo in {self.dir}: run `flightdeck demo` first") from None
        except ValueError as exc:
            raise DemoError(
                f"{self.state_file} is damaged ({exc}); delete {self.dir} and start again"
            ) from None

    def prepare(
        self,
        *,
        cockpit_port: int | None = None,
        service_port: int | None = None,
        service_https_port: int | None = None,
        chaos_every: float = 300.0,
        interval: float = 10.0,
        probe: bool = True,
    ) -> tuple[EstateState, list[LocalServer]]:
        """Certificates, tokens, ports and the configuration; stops a service left running."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.stop_service()
        previous: DemoPorts | None = None
        with contextlib.suppress(DemoError):
            previous = self.load().ports
        taken: set[int] = set()
        chosen = []
        for requested, field in (
            (service_port, "service_http"),
            (service_https_port, "service_https"),
            (cockpit_port, "cockpit"),
        ):
            last = getattr(previous, field) if previous else None
            port = _choose(requested, last, getattr(PREFERRED_PORTS, field), taken)
            taken.add(port)
            chosen.append(port)
        ports = DemoPorts(service_http=chosen[0], service_https=chosen[1], cockpit=chosen[2])
        certs = ensure_certificates(self.certs_dir)
        read_or_create_secret(self.token_file, 24)
        if not self.backup_key_file.exists():
            _write_secret(self.backup_key_file, secrets.token_hex(32))
        if not self.signing_key_file.exists():
            from flightdeck.payments.ledger import generate_keypair

            generate_keypair(self.dir, "ledger-signing")
        servers = probe_servers() if probe else []
        available = [s for s in servers if s.available]
        values = config_values(
            cockpit_port=ports.cockpit,
            service_http_port=ports.service_http,
            service_https_port=ports.service_https,
            ca_file=certs.ca_file,
            payments_db=self.db_file,
            servers=available,
            interval=interval,
        )
        text = render_config(values, enabled={s.kind.value for s in available})
        tmp = self.config_file.with_suffix(".yaml.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.config_file)
        load_config(self.config_file)  # a broken template is a bug: say so now, with the line
        state = EstateState(
            ports=ports, chaos_every=chaos_every, interval=interval, servers=[s.kind for s in available]
        )
        self.state_file.write_text(state.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return state, servers

    # -- the service process ----------------------------------------------------------------------

    def service_args(self, state: EstateState) -> list[str]:
        certs = self.certs_dir
        return [
            "--db", str(self.db_file),
            "--host", "127.0.0.1",
            "--port", str(state.ports.service_http),
            "--https-port", str(state.ports.service_https),
            "--cert", str(certs / "server.pem"),
            "--key", str(certs / "server-key.pem"),
            "--admin-token-file", str(self.token_file),
            "--chaos-every", str(state.chaos_every),
            # Shorter than the login-throttle check's interval, so each burst meets a fresh window.
            "--login-limit", str(LOGIN_LIMIT),
            "--login-window", str(LOGIN_WINDOW),
        ]  # fmt: skip

    def _pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if pid is not None and pid_alive(pid) else None

    def _healthy(self, port: int) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/health")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def service_status(self) -> ServiceStatus:
        state = self.load()
        pid = self._pid()
        return ServiceStatus(
            running=pid is not None,
            pid=pid,
            healthy=self._healthy(state.ports.service_http) if pid is not None else None,
            http_url=f"http://127.0.0.1:{state.ports.service_http}",
            https_url=f"https://127.0.0.1:{state.ports.service_https}",
            log_file=self.log_file,
        )

    def start_service(self, timeout: float = 30.0) -> ServiceStatus:
        """Start the service unless it runs; wait until ``/health`` answers."""
        state = self.load()
        if self._pid() is None:
            proc = spawn_service(self.service_args(state), self.log_file, self.pid_file)
            deadline = time.monotonic() + timeout
            while not self._healthy(state.ports.service_http):
                if proc.poll() is not None or time.monotonic() > deadline:
                    terminate(proc.pid)
                    self.pid_file.unlink(missing_ok=True)
                    tail = self._log_tail()
                    why = "exited" if proc.returncode is not None else f"did not answer within {timeout:g} s"
                    raise DemoError(f"the demo service {why}; last lines of {self.log_file}:\n{tail}")
                time.sleep(0.1)
        return self.service_status()

    def stop_service(self, timeout: float = 10.0) -> bool:
        """Stop the service if it runs. True when it was running."""
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        if not terminate(pid, timeout):
            raise DemoError(f"the demo service (pid {pid}) did not stop")
        self.pid_file.unlink(missing_ok=True)
        return True

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- faults -----------------------------------------------------------------------------------

    async def _admin(self, method: str, path: str, body: object = None) -> dict[str, object]:
        state = self.load()
        token = self.token_file.read_text(encoding="utf-8").strip()
        ctx = ssl.create_default_context(cafile=str(self.certs_dir / "ca.pem"))
        url = f"https://127.0.0.1:{state.ports.service_https}{path}"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
                session.request(
                    method, url, json=body, ssl=ctx, headers={"Authorization": f"Bearer {token}"}
                ) as resp,
            ):
                data = await resp.json(content_type=None)
                if resp.status >= 400:
                    message = data.get("error", {}).get("message") if isinstance(data, dict) else None
                    raise DemoError(f"the demo service refused: {message or resp.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DemoError(f"cannot reach the demo service at {url}: {exc or 'timed out'}") from None
        assert isinstance(data, dict)
        return data

    async def faults(self) -> list[dict[str, object]]:
        data = await self._admin("GET", "/admin/faults")
        faults = data["faults"]
        assert isinstance(faults, list)
        return faults

    async def set_fault(
        self, name: FaultName, active: bool, duration: float | None = None
    ) -> dict[str, object]:
        body: dict[str, object] = {"active": active}
        if duration is not None:
            body["duration_s"] = duration
        data = await self._admin("POST", f"/admin/faults/{name.value}", body)
        fault = data["fault"]
        assert isinstance(fault, dict)
        return fault
