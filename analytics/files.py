"""Tables to files and back: Parquet, CSV (UTF-8 with BOM) and JSON Lines, written in chunks.

- Parquet keeps types: `time` is a timestamp in Asia/Ho_Chi_Minh, so pandas and DuckDB show
  local times and still compare them exactly.
- CSV is for spreadsheets: a BOM so Excel reads UTF-8 (Vietnamese) instead of the machine's
  legacy code page, `true`/`false`, empty cells for nothing. A text cell starting with = + - @
  (viewers type "+1" all the time) gets a leading apostrophe, so a spreadsheet shows it as text
  instead of running it as a formula; the reader here removes it again.
- JSON Lines: one object a line, the same columns; items, explanation and lines are arrays of
  objects (pandas, DuckDB and Polars read them as nested values, no decoding step).
- Parquet stores those as list<struct> columns, typed from their records (chotdon/records.py);
  a CSV cell holds them as JSON text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal, get_args

import msgspec
import msgspec.inspect

from .tables import TIME_SOURCE, Column, Row, Table
from .times import VIETNAM_TZ_NAME, iso

Format = Literal["parquet", "csv", "jsonl"]
FORMATS: tuple[Format, ...] = get_args(Format)
CHUNK = 10_000  # rows a write at most: long exports stream instead of holding every cell
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")  # "'" too, so the guard is reversible

Progress = Callable[[int], object]  # rows written since the last call


def table_path(directory: Path, table: Table, fmt: Format) -> Path:
    return directory / f"{table.name}.{fmt}"


def format_of(path: Path) -> Format:
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path}: not an export file (.parquet, .csv or .jsonl)")
    return fmt


def _chunks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    it = iter(rows)
    while chunk := list(islice(it, CHUNK)):
        yield chunk


def write_table(
    table: Table, rows: Iterable[Row], path: Path, fmt: Format, progress: Progress | None = None
) -> int:
    """Write rows to `path` (replacing it); how many were written."""
    writer = {"parquet": _write_parquet, "csv": _write_csv, "jsonl": _write_jsonl}[fmt]
    return writer(table, _chunks(rows), path, progress or (lambda _n: None))


def read_table(table: Table, path: Path) -> Iterator[Row]:
    fmt = format_of(path)
    reader = {"parquet": _read_parquet, "csv": _read_csv, "jsonl": _read_jsonl}[fmt]
    return reader(table, path)


def _time_ts(table: Table, row: Row) -> float:
    ts: float = row[TIME_SOURCE.get(table.name, "ts")]
    return ts


# --- CSV ---


def spreadsheet_text(text: str) -> str:
    """Text a spreadsheet shows as text and never runs as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_cell(column: Column, value: Any) -> Any:
    if value is None:
        return ""
    if column.kind == "bool":
        return "true" if value else "false"
    if column.kind == "str":
        return spreadsheet_text(value)
    if column.kind == "list":
        return json.dumps(value, ensure_ascii=False)
    return value


def _write_csv(table: Table, chunks: Iterator[list[Row]], path: Path, progress: Progress) -> int:
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")  # RFC 4180, what Excel writes
        writer.writerow(table.names)
        for chunk in chunks:
            for row in chunk:
                writer.writerow(
                    iso(_time_ts(table, row)) if c.kind == "time" else _csv_cell(c, row[c.name])
                    for c in table.columns
                )
            count += len(chunk)
            progress(len(chunk))
    return count


def _from_csv(column: Column, text: str) -> Any:
    if text == "" and (column.nullable or column.kind != "str"):
        return None
    if column.kind == "int":
        return int(text)
    if column.kind == "float":
        return float(text)
    if column.kind == "bool":
        return text.lower() == "true"
    if column.kind == "str" and text.startswith("'"):
        return text[1:]
    if column.kind == "list":
        return json.loads(text)
    return text


def _read_csv(table: Table, path: Path) -> Iterator[Row]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        for raw in csv.DictReader(f):
            yield {c.name: _from_csv(c, raw.get(c.name) or "") for c in table.columns}


# --- JSON Lines ---


def _write_jsonl(table: Table, chunks: Iterator[list[Row]], path: Path, progress: Progress) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as f:
        for chunk in chunks:
            for row in chunk:
                out = {c.name: row.get(c.name) for c in table.columns}
                out["time"] = iso(_time_ts(table, row))
                f.write(json.dumps(out, ensure_ascii=False) + "\n")
            count += len(chunk)
            progress(len(chunk))
    return count


def _read_jsonl(table: Table, path: Path) -> Iterator[Row]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


# --- Parquet ---


def _arrow_type(info: msgspec.inspect.Type) -> Any:
    """The Arrow type of a record field: a struct's fields in order, int|float as float64."""
    import pyarrow as pa

    if isinstance(info, msgspec.inspect.UnionType):  # X | None, or int | float
        kinds = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(kinds) == 1:
            return _arrow_type(kinds[0])
        if all(isinstance(t, msgspec.inspect.IntType | msgspec.inspect.FloatType) for t in kinds):
            return pa.float64()
    if isinstance(info, msgspec.inspect.StructType):
        return pa.struct([pa.field(f.name, _arrow_type(f.type)) for f in info.fields])
    if isinstance(info, msgspec.inspect.ListType):
        return pa.list_(_arrow_type(info.item_type))
    simple = {
        msgspec.inspect.StrType: pa.string(),
        msgspec.inspect.LiteralType: pa.string(),  # the records' literals are words
        msgspec.inspect.IntType: pa.int64(),
        msgspec.inspect.FloatType: pa.float64(),
        msgspec.inspect.BoolType: pa.bool_(),
    }
    if type(info) not in simple:
        raise TypeError(f"no Parquet type for {info}")
    return simple[type(info)]


def _arrow_schema(table: Table) -> Any:
    import pyarrow as pa

    types = {
        "str": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "time": pa.timestamp("ms", tz=VIETNAM_TZ_NAME),
    }
    return pa.schema(
        [
            pa.field(
                c.name,
                pa.list_(_arrow_type(msgspec.inspect.type_info(c.of))) if c.of else types[c.kind],
                nullable=True,
            )
            for c in table.columns
        ]
    )


def _write_parquet(
    table: Table, chunks: Iterator[list[Row]], path: Path, progress: Progress
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema(table)
    count = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for chunk in chunks:
            columns = []
            for c in table.columns:
                arrow_type = schema.field(c.name).type
                if c.kind == "time":
                    ms = [round(_time_ts(table, row) * 1000) for row in chunk]
                    columns.append(pa.array(ms, pa.int64()).cast(arrow_type))
                else:
                    columns.append(pa.array([row[c.name] for row in chunk], arrow_type))
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            count += len(chunk)
            progress(len(chunk))
    return count


def _read_parquet(table: Table, path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    wanted = [name for name in table.names if name != "time"]
    for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK, columns=wanted):
        yield from batch.to_pylist()
