"""What every report shares: the formats, the Jinja environment (templates in
``flightdeck/reports/templates``, a ``md`` filter for Markdown table cells and ``iso`` for UTC times),
PDF rendering with WeasyPrint (nothing fetched), and atomic writes that return the file as an
:class:`~flightdeck.evidence.Artifact` (name, ``file://`` URI, media type, size, SHA-256)."""

from __future__ import annotations

import enum
import hashlib
import os
import tempfile
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from flightdeck.evidence import Artifact

__all__ = ["ReportFormat", "render_pdf", "template_environment", "write_report_file"]


class ReportFormat(enum.StrEnum):
    MARKDOWN = "md"
    HTML = "html"
    PDF = "pdf"
    CSV = "csv"

    @property
    def media_type(self) -> str:
        return {
            "md": "text/markdown; charset=utf-8",
            "html": "text/html; charset=utf-8",
            "pdf": "application/pdf",
            "csv": "text/csv; charset=utf-8",
        }[self.value]

    @property
    def suffix(self) -> str:
        return "-exceptions.csv" if self is ReportFormat.CSV else f".{self.value}"


_MD_SPECIAL = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "*": "\\*",
        "_": "\\_",
        "`": "\\`",
        "[": "\\[",
        "]": "\\]",
        "<": "&lt;",
        ">": "&gt;",
        "\r": " ",
        "\n": " ",
    }
)


def _md(value: object) -> str:
    """Text safe in a Markdown table cell: nothing in it formats, links, or breaks the table."""
    return str(value).translate(_MD_SPECIAL)


def template_environment() -> Environment:
    """The Jinja environment of the report templates (HTML autoescaped, Markdown not)."""
    env = Environment(
        loader=PackageLoader("flightdeck.reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = _md
    env.filters["iso"] = lambda d: d.strftime("%Y-%m-%d %H:%M:%S UTC") if d is not None else "—"
    return env


def render_pdf(html: str) -> bytes:
    """The HTML report as a PDF (A4); WeasyPrint lays it out, nothing is fetched from anywhere."""
    from weasyprint import HTML  # imported here: it loads pango, which only reports need

    def refuse(url: str) -> dict[str, object]:
        raise ValueError(f"the report refers to {url!r}; reports fetch nothing")

    pdf = HTML(string=html, url_fetcher=refuse).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


def write_report_file(path: Path, data: bytes, fmt: ReportFormat) -> Artifact:
    """Write ``data`` to ``path`` atomically (temporary file, then rename): a reader never sees half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    resolved = path.resolve()
    return Artifact(
        name=path.name,
        uri=resolved.as_uri(),
        media_type=fmt.media_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
