"""Reading statement files into columns of raw cells, with the line a person sees for every row.

Each reader returns a :class:`RawTable`: the headers in file order, one list of cells per header
(column-wise, so the normalizer can work a column at a time), and the display line of every row:

- CSV: the line in a text editor (the header is line 1; a quoted cell spanning lines counts them
  all; blank lines are skipped but counted). UTF-8 with or without BOM; the delimiter is given or
  taken from the header line (the most frequent of ``, ; TAB |``). Cells are strings.
- JSON: an array of objects, ``{"data": [...]}`` (Paystack, Flutterwave list endpoints) or
  ``{"data": {"transactions": [...]}}`` (a Flutterwave settlement); the line is the object's index + 1.
  Numbers with a fraction are read as ``Decimal``, never ``float``.
- Excel ``.xlsx`` (openpyxl, read-only): the given or first sheet; row 1 is the header; the line is
  the Excel row number. Numeric cells are turned into ``Decimal`` at the 15 significant digits Excel
  shows, so a cell showing 0.3 is 0.3 even if it was computed as 0.1 + 0.2.

A structurally broken row (a CSV record with the wrong number of cells, a JSON element that is not an
object) ends the reading: the rows before it are kept, and the error is kept in ``RawTable.stop`` so
that an earlier bad cell, found by the normalizer, is still reported first.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from flightdeck.payments.errors import StatementError

__all__ = ["RawTable", "StatementFormat", "detect_format", "read_csv", "read_json", "read_raw", "read_xlsx"]

Cell = str | int | Decimal | datetime | bool | None | dict[str, object] | list[object]


class StatementFormat(enum.StrEnum):
    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"


_EXTENSIONS = {
    ".csv": StatementFormat.CSV,
    ".txt": StatementFormat.CSV,
    ".tsv": StatementFormat.CSV,
    ".json": StatementFormat.JSON,
    ".xlsx": StatementFormat.XLSX,
    ".xlsm": StatementFormat.XLSX,
}
_DELIMITERS = (",", ";", "\t", "|")


@dataclass
class RawTable:
    """Cells of a statement with each row's display line; :meth:`column` gives one column's cells
    (built on first use, so unused columns of a wide export cost nothing)."""

    headers: list[str]
    rows: Sequence[Sequence[Cell]] | None  # CSV, Excel: one sequence of cells per row
    lines: list[int]
    header_line: int = 1
    stop: StatementError | None = None  # a broken row after the last row kept
    duplicates: set[str] = field(default_factory=set)  # headers (lower case) that appear more than once
    objects: list[dict[str, Cell]] | None = None  # JSON: one object per row
    arrow: pa.Table | None = None  # CSV read by Arrow: one string column per header
    _cache: dict[str, list[Cell]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.lines)

    def column(self, header: str) -> list[Cell]:
        cells = self._cache.get(header)
        if cells is None:
            if self.objects is not None:
                cells = [obj.get(header) for obj in self.objects]
            elif self.arrow is not None:
                cells = self.arrow.column(self.headers.index(header)).to_pylist()
            else:
                assert self.rows is not None
                j = self.headers.index(header)
                cells = [row[j] for row in self.rows]
            self._cache[header] = cells
        return cells


def detect_format(path: Path, given: str | None) -> StatementFormat:
    """The format named in the configuration, or the one the file's extension says."""
    if given:
        try:
            return StatementFormat(given.strip().lower())
        except ValueError:
            raise StatementError(
                path, None, None, f"unknown format {given!r} (use csv, json or xlsx)"
            ) from None
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise StatementError(
            path, None, None, f"cannot tell the format from {path.suffix or 'no extension'!r}: set format"
        )
    return found


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StatementError(path, line, None, "not UTF-8 text (save the file as UTF-8)") from None


def _duplicates(headers: list[str]) -> set[str]:
    seen: set[str] = set()
    dup: set[str] = set()
    for h in headers:
        key = h.strip().lower()
        if key in seen and key:
            dup.add(key)
        seen.add(key)
    return dup


def _arrow_csv(data: bytes, delimiter: str, width: int) -> pa.Table | None:
    """Arrow's CSV parser for the common case: one record per line, no blank line, every record as
    wide as the header. ``None`` when the file is anything else (the csv module then reads it)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\r" in data and b"\r\n" not in data:  # old Mac line ends: let the csv module count them
        return None
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(
                skip_rows=1, column_names=[f"c{j}" for j in range(width)], block_size=1 << 24
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types={f"c{j}": pa.string() for j in range(width)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table if table.num_rows == lines - 1 else None  # a blank line or a quoted line break


def read_csv(path: Path, delimiter: str | None = None) -> RawTable:
    data = path.read_bytes()
    text = _decode(path, data)
    if delimiter is None:
        first = text.split("\n", 1)[0]
        counts = [(first.count(d), -i, d) for i, d in enumerate(_DELIMITERS)]
        best = max(counts)
        delimiter = best[2] if best[0] > 0 else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        headers = next(reader)
    except StopIteration:
        raise StatementError(path, 1, None, "the file is empty: no header line") from None
    except csv.Error as exc:
        raise StatementError(path, 1, None, f"unreadable header line: {exc}") from None
    headers = [h.strip() for h in headers]
    width = len(headers)
    if reader.line_num == 1:
        table = _arrow_csv(data, delimiter, width)
        if table is not None:
            lines = list(range(2, 2 + table.num_rows))
            return RawTable(headers, None, lines, 1, None, _duplicates(headers), arrow=table)
    # slow path: track where each record starts (quoted line breaks, blank lines, broken rows)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    next(reader)
    rows: list[list[str]] = []
    lines = []
    stop: StatementError | None = None
    previous = reader.line_num
    try:
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if len(record) == width:
                rows.append(record)
                lines.append(start)
            elif record:  # [] is a blank line
                stop = StatementError(path, start, None, f"{len(record)} cells where the header has {width}")
                break
    except csv.Error as exc:
        stop = StatementError(path, previous + 1, None, f"malformed CSV: {exc}")
    return RawTable(headers, rows, lines, 1, stop, _duplicates(headers))


def _records(path: Path, document: object) -> list[object]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and "data" in document:
        data = document["data"]
        if isinstance(data, list):
            return data
        if isinstance(data, dict) and isinstance(data.get("transactions"), list):
            return list(data["transactions"])
    raise StatementError(
        path, 1, None, 'expected an array of objects, {"data": [...]} or {"data": {"transactions": [...]}}'
    )


def read_json(path: Path) -> RawTable:
    text = _decode(path, path.read_bytes())
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise StatementError(
            path, exc.lineno, None, f"invalid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    records = _records(path, document)
    objects: list[dict[str, Cell]] = []
    stop: StatementError | None = None
    for index, item in enumerate(records):
        if not isinstance(item, dict):
            stop = StatementError(path, index + 1, None, f"element {index + 1} is not an object")
            break
        objects.append(item)
    headers: dict[str, None] = {}
    for obj in objects:
        for key in obj:
            headers.setdefault(str(key), None)
    header_list = list(headers)
    lines = list(range(1, len(objects) + 1))
    return RawTable(header_list, None, lines, 1, stop, _duplicates(header_list), objects=objects)


def _excel_cell(value: object) -> Cell:
    if isinstance(value, float):
        return Decimal(format(value, ".15g"))
    if value is None or isinstance(value, str | int | Decimal | datetime):
        return value
    return str(value)  # date, time, timedelta: the normalizer rejects what it cannot use


def read_xlsx(path: Path, sheet: str | None = None) -> RawTable:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise StatementError(path, None, None, f"not a readable .xlsx workbook: {exc}") from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            names = ", ".join(workbook.sheetnames)
            raise StatementError(path, None, None, f"no sheet {sheet!r} (sheets: {names})")
        chosen = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        if not isinstance(chosen, ReadOnlyWorksheet):
            raise StatementError(path, None, None, f"sheet {chosen.title!r} is a chart, not a table")
        rows = chosen.iter_rows(min_row=1, values_only=True)
        first = next(rows, None)
        if first is None or all(v is None for v in first):
            raise StatementError(path, 1, None, "row 1 is empty: expected the header row")
        header_cells = list(first)
        while header_cells and header_cells[-1] is None:
            header_cells.pop()
        headers = ["" if v is None else str(v).strip() for v in header_cells]
        width = len(headers)
        kept: list[tuple[Cell, ...]] = []
        lines: list[int] = []
        stop: StatementError | None = None
        for number, row in enumerate(rows, start=2):
            if all(v is None for v in row):
                continue
            if any(v is not None for v in row[width:]):
                stop = StatementError(path, number, None, f"a cell right of the header's {width} columns")
                break
            cells = tuple(_excel_cell(v) for v in row[:width])
            kept.append(cells + (None,) * (width - len(cells)))
            lines.append(number)
    finally:
        workbook.close()
    return RawTable(headers, kept, lines, 1, stop, _duplicates(headers))


def read_raw(
    path: Path, fmt: StatementFormat, *, delimiter: str | None = None, sheet: str | None = None
) -> RawTable:
    if fmt is StatementFormat.CSV:
        if delimiter is None and path.suffix.lower() == ".tsv":
            delimiter = "\t"
        return read_csv(path, delimiter)
    if fmt is StatementFormat.JSON:
        return read_json(path)
    return read_xlsx(path, sheet)
