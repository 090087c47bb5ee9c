"""The flat tables an export writes: one row per record, columns a spreadsheet can hold.

Each table is declared once (column name and kind), and each record kind has a pair of
functions: record -> row for writing, row -> record for reading an export back (a replay from
an exported file must see exactly the records the database held). An intent's items and
explanation and an order's lines are lists of objects (`list` columns, of the struct named in
NESTED): nested in JSON Lines and Parquet, JSON text in a CSV cell. Every time is both `ts`
(unix seconds, exact) and `time` (Vietnam's local time, for people).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import msgspec

from chotdon.records import (
    INTENT_KINDS,
    AdjustStock,
    Approve,
    Comment,
    HostAction,
    Intent,
    Item,
    Match,
    MetricsSnapshot,
    OrderEvent,
    OrderLine,
    Reject,
    SetCurrent,
    ViewerCount,
)

Kind = Literal["str", "int", "float", "bool", "time", "list"]
S = TypeVar("S", bound=msgspec.Struct)
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = False  # an empty CSV cell reads back as None
    of: type[msgspec.Struct] | None = None  # the items of a `list` column


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


NESTED: dict[str, type[msgspec.Struct]] = {"items": Item, "explanation": Match, "lines": OrderLine}


def _cols(spec: str) -> tuple[Column, ...]:
    """ "name:kind name:kind? ..." (a trailing ? marks a nullable column; a `list` column holds
    the struct NESTED names for it)."""
    out = []
    for part in spec.split():
        name, kind = part.split(":")
        nullable = kind.endswith("?")
        of = NESTED[name] if kind == "list" else None
        out.append(Column(name, kind.rstrip("?"), nullable, of))  # type: ignore[arg-type]
    return tuple(out)


_COMMENT = "platform:str user_id:str user_name:str text:str deleted:bool history:bool"
COMMENTS = Table("comments", _cols("stream:str comment_id:str ts:float time:time " + _COMMENT))
INTENTS = Table(
    "intents",
    _cols(
        "stream:str comment_id:str ts:float time:time intent:str items:list phone:str?"
        " confidence:float parser_version:str explanation:list " + _COMMENT
    ),
)
ORDER_EVENTS = Table(
    "order_events",
    _cols(
        "stream:str seq:int ts:float time:time kind:str order_id:str customer:str"
        " customer_name:str phone:str? total:int comment_id:str lines:list"
    ),
)
METRICS = Table(
    "metrics",
    _cols(
        "stream:str window_s:int window_start:float time:time comments:int commenters:int "
        + " ".join(f"intents_{kind}:int" for kind in INTENT_KINDS)
        + " orders:int cancelled:int revenue:int viewers:int viewers_peak:int late:int"
    ),
)
VIEWERS = Table("viewers", _cols("stream:str ts:float time:time viewers:int"))
ACTIONS = Table(
    "actions",
    _cols(
        "stream:str ts:float time:time type:str code:str? review_id:str? sku:str? variant:str?"
        " qty:float? delta:float? action_id:str?"
    ),
)
TABLES = (COMMENTS, INTENTS, ORDER_EVENTS, METRICS, VIEWERS, ACTIONS)
TIME_SOURCE = {"metrics": "window_start"}  # the column `time` shows; `ts` elsewhere


def _number(value: float | None) -> int | float | None:
    """Quantities were ints unless fractional; Parquet and CSV keep them as floats."""
    if value is None:
        return None
    return int(value) if value == int(value) else float(value)


# --- records -> rows ---


def _comment_fields(c: Comment) -> Row:
    return {
        "platform": c.platform,
        "user_id": c.user_id,
        "user_name": c.user_name,
        "text": c.text,
        "deleted": c.deleted,
        "history": c.history,
    }


def comment_row(c: Comment) -> Row:
    return {"stream": c.stream, "comment_id": c.comment_id, "ts": c.ts, **_comment_fields(c)}


def intent_row(i: Intent) -> Row:
    c = i.comment
    assert c is not None  # recorded intents carry their comment
    return {
        "stream": c.stream,
        "comment_id": c.comment_id,
        "ts": c.ts,
        "intent": i.intent,
        "items": msgspec.to_builtins(i.items),
        "phone": i.phone,
        "confidence": i.confidence,
        "parser_version": i.parser_version,
        "explanation": msgspec.to_builtins(i.explanation),
        **_comment_fields(c),
    }


def event_row(e: OrderEvent) -> Row:
    return {
        "stream": e.stream,
        "seq": e.seq,
        "ts": e.ts,
        "kind": e.kind,
        "order_id": e.order_id,
        "customer": e.customer,
        "customer_name": e.customer_name,
        "phone": e.phone,
        "total": e.total,
        "comment_id": e.comment_id,
        "lines": msgspec.to_builtins(e.lines),
    }


def metrics_row(m: MetricsSnapshot) -> Row:
    row: Row = {
        "stream": m.stream,
        "window_s": m.window_s,
        "window_start": m.window_start,
        "comments": m.comments,
        "commenters": m.commenters,
        "orders": m.orders,
        "cancelled": m.cancelled,
        "revenue": m.revenue,
        "viewers": m.viewers,
        "viewers_peak": m.viewers_peak,
        "late": m.late,
    }
    row.update({f"intents_{kind}": m.intents.get(kind, 0) for kind in INTENT_KINDS})
    return row


def viewers_row(v: ViewerCount) -> Row:
    return {"stream": v.stream, "ts": v.ts, "viewers": v.viewers}


def action_row(a: HostAction) -> Row:
    row: Row = dict.fromkeys(ACTIONS.names)
    row.update(stream=a.stream, ts=a.ts, type=type(a).__struct_config__.tag)
    fields = msgspec.structs.asdict(a)
    row.update({k: v for k, v in fields.items() if k in row and k not in ("stream", "ts")})
    return row


# --- rows -> records ---


def _records(cell: list[Row], of: type[S]) -> list[S]:
    """A `list` cell as records; a quantity Parquet kept as a float is an int again when whole."""
    return [msgspec.convert({**v, "qty": _number(v["qty"])} if "qty" in v else v, of) for v in cell]


def comment_from(row: Row) -> Comment:
    return Comment(
        stream=row["stream"],
        comment_id=row["comment_id"],
        user_id=row["user_id"],
        text=row["text"],
        ts=row["ts"],
        platform=row["platform"],
        user_name=row["user_name"],
        deleted=row["deleted"],
        history=row["history"],
    )


def intent_from(row: Row) -> Intent:
    return Intent(
        intent=row["intent"],
        items=_records(row["items"], Item),
        phone=row["phone"],
        confidence=row["confidence"],
        explanation=_records(row["explanation"], Match),
        parser_version=row["parser_version"],
        comment=comment_from(row),
    )


def event_from(row: Row) -> OrderEvent:
    return OrderEvent(
        kind=row["kind"],
        stream=row["stream"],
        order_id=row["order_id"],
        customer=row["customer"],
        customer_name=row["customer_name"],
        lines=_records(row["lines"], OrderLine),
        total=row["total"],
        phone=row["phone"],
        comment_id=row["comment_id"],
        ts=row["ts"],
        seq=row["seq"],
    )


def metrics_from(row: Row) -> MetricsSnapshot:
    return MetricsSnapshot(
        stream=row["stream"],
        window_start=row["window_start"],
        window_s=row["window_s"],
        comments=row["comments"],
        commenters=row["commenters"],
        intents={kind: row[f"intents_{kind}"] for kind in INTENT_KINDS},
        orders=row["orders"],
        cancelled=row["cancelled"],
        revenue=row["revenue"],
        viewers=row["viewers"],
        viewers_peak=row["viewers_peak"],
        late=row["late"],
    )


def viewers_from(row: Row) -> ViewerCount:
    return ViewerCount(stream=row["stream"], viewers=row["viewers"], ts=row["ts"])


def action_from(row: Row) -> HostAction:
    kind, stream, ts = row["type"], row["stream"], row["ts"]
    action_id = row["action_id"] or ""
    if kind == "set_current":
        return SetCurrent(stream=stream, code=row["code"], ts=ts)
    if kind == "approve":
        qty = _number(row["qty"])
        return Approve(
            stream=stream,
            review_id=row["review_id"],
            sku=row["sku"],
            qty=0 if qty is None else qty,
            variant=row["variant"],
            ts=ts,
            action_id=action_id,
        )
    if kind == "reject":
        return Reject(stream=stream, review_id=row["review_id"], ts=ts, action_id=action_id)
    if kind == "stock":
        delta = _number(row["delta"])
        return AdjustStock(
            stream=stream,
            sku=row["sku"],
            variant=row["variant"],
            delta=delta or 0,
            ts=ts,
            action_id=action_id,
        )
    raise ValueError(f"unknown action type '{kind}'")
