"""The records that flow between stages, each defined once and serialised one way (JSON).

Every record carries `type` (its tag) and `v` (the schema version), so a consumer can tell a
record it does not understand from a malformed one. Encode with `encode`, decode with `decode`.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import msgspec

SCHEMA_VERSION = 1

# Bounds of what comes in from outside (files, stdin, connectors, the host): a value out of them
# is a RecordError at the edge, never an overflow further down (SQLite integers are 64-bit).
MAX_ID_CHARS = 256
MAX_NAME_CHARS = 256
MAX_TEXT_CHARS = 8_000
MAX_QTY = 1_000_000  # of one product in one line or one stock change
MAX_VIEWERS = 1_000_000_000
MAX_TS = 1e11  # unix seconds (year 5138): rejects inf and absurd clocks

Id = Annotated[str, msgspec.Meta(max_length=MAX_ID_CHARS)]
Name = Annotated[str, msgspec.Meta(max_length=MAX_NAME_CHARS)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_CHARS)]
Timestamp = Annotated[float, msgspec.Meta(ge=0, le=MAX_TS)]
Viewers = Annotated[int, msgspec.Meta(ge=0, le=MAX_VIEWERS)]
Amount = (
    Annotated[int, msgspec.Meta(ge=-MAX_QTY, le=MAX_QTY)]
    | Annotated[float, msgspec.Meta(ge=-MAX_QTY, le=MAX_QTY)]
)

IntentKind = Literal["order", "change", "cancel", "question", "contact", "other"]
INTENT_KINDS: tuple[IntentKind, ...] = ("order", "change", "cancel", "question", "contact", "other")

OrderEventKind = Literal["confirmed", "updated", "waitlisted", "needs_review", "cancelled"]
LineStatus = Literal["confirmed", "waitlisted", "review"]


class Record(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    v: int = SCHEMA_VERSION


class Comment(Record, tag="comment", frozen=True):
    """A viewer's comment as the platform reported it."""

    stream: Id
    comment_id: Id
    user_id: Id
    text: Text
    ts: Timestamp  # unix seconds, platform clock
    platform: Id = "file"
    user_name: Name = ""
    deleted: bool = False  # the platform reports this comment deleted: undo what it did
    history: bool = False  # backlog replayed when a connector (re)joins the stream


class ViewerCount(Record, tag="viewers", frozen=True):
    stream: Id
    viewers: Viewers
    ts: Timestamp
    platform: Id = "file"


class SetCurrent(Record, tag="set_current", frozen=True):
    """The host shows a product now ("now selling"): comments naming none mean this one."""

    stream: Id
    code: Id | None
    ts: Timestamp


class Approve(Record, tag="approve", frozen=True):
    """The host settles a needs-review line, with the detail the comment lacked."""

    stream: Id
    review_id: Id
    sku: Id
    qty: Amount
    variant: Name | None = None
    ts: Timestamp = 0.0
    action_id: Id = ""  # unique per action: applied once however often it arrives


class Reject(Record, tag="reject", frozen=True):
    stream: Id
    review_id: Id
    ts: Timestamp = 0.0
    action_id: Id = ""  # unique per action: applied once however often it arrives


class AdjustStock(Record, tag="stock", frozen=True):
    """Stock found or lost during the session (delta in the product's unit): the product's shared
    stock, or with `variant` the stock that variant owns."""

    stream: Id
    sku: Id
    delta: Amount
    variant: Name | None = None
    ts: Timestamp = 0.0
    action_id: Id = ""  # unique per action: applied once however often it arrives


HostAction = SetCurrent | Approve | Reject | AdjustStock


class Item(msgspec.Struct, frozen=True):
    """One thing a comment orders, changes or cancels. `qty` is in the product's unit; None
    means the comment did not state it (a cancel, or a variant change)."""

    sku: str
    qty: int | float | None
    variant: str | None = None


class Match(msgspec.Struct, frozen=True):
    """Which parser rule matched which span of the normalised text (for --explain)."""

    rule: str
    start: int
    end: int
    text: str


# the explanation rule of a comment the parser failed on ("error:KeyError")
PARSE_ERROR = "error:"


class Intent(Record, tag="intent", frozen=True):
    """What a comment means: the parser's output, with the comment it came from attached by
    the shell that ran the parser (the pure parser leaves `comment` empty)."""

    intent: IntentKind
    items: list[Item] = []
    phone: str | None = None
    confidence: float = 0.0
    explanation: list[Match] = []
    parser_version: str = ""
    comment: Comment | None = None


def parse_failed(intent: Intent) -> bool:
    """True for the "other" the parser answers when it failed on a comment (a bug to report)."""
    return intent.intent == "other" and any(
        m.rule.startswith(PARSE_ERROR) for m in intent.explanation
    )


class OrderLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line of an order. A line awaiting the host's review carries `review_id` and what is
    `missing` ("product", "sku", "variant", "qty" or "line"); its `sku` is "" when no product
    was named and its `qty` 0 when none was stated."""

    sku: str
    variant: str | None
    qty: int | float
    unit_price: int  # VND
    status: LineStatus = "confirmed"
    review_id: str | None = None
    missing: str | None = None


class OrderEvent(Record, tag="order", frozen=True):
    """A change to one customer's order in one stream, with the order as it now stands."""

    kind: OrderEventKind
    stream: str
    order_id: str
    customer: str  # platform:user_id
    customer_name: str
    lines: list[OrderLine]
    total: int  # VND, confirmed lines only
    phone: str | None  # full number: sinks mask it before anything public
    comment_id: str  # the comment (or host action id) that caused this event
    ts: float
    seq: int  # per stream, +1 an event: sinks apply events in order and drop ones already seen


class DeadLetter(Record, tag="dead_letter", frozen=True):
    """A record that could not be used, kept with why: nothing a platform sends is lost."""

    source: str  # topic, file or connector it came from
    reason: str
    raw: str  # the bytes as received (undecodable bytes escaped)
    position: str = ""  # partition/offset or line number
    ts: float = 0.0


class VariantStock(msgspec.Struct, frozen=True, kw_only=True):
    """The stock a variant owns (a catalog option giving it `stock`), apart from its product's."""

    sku: str
    variant: str
    remaining: int | float
    reserved: int | float
    waiting: int | float


class StockLevels(Record, tag="stock_levels", frozen=True):
    """Stock of one stream after a change: free to reserve, held by confirmed lines, waited for.
    The dicts are per sku and count the whole product (its shared stock and every variant's own);
    `variants` tells each variant that owns stock apart, in catalog order."""

    stream: str
    remaining: dict[str, int | float]
    reserved: dict[str, int | float]
    waiting: dict[str, int | float]
    ts: float
    variants: list[VariantStock] = []


class MetricsSnapshot(Record, tag="metrics", frozen=True):
    """Aggregates of one stream over one tumbling window starting at `window_start`."""

    stream: str
    window_start: float
    window_s: int
    comments: int = 0
    commenters: int = 0
    intents: dict[str, int] = {}
    orders: int = 0  # orders first confirmed in the window
    cancelled: int = 0  # orders emptied in the window
    revenue: int = 0  # VND: the change of the confirmed totals in the window (a cancel lowers it)
    viewers: int = 0  # last reported in the window, else the last known
    viewers_peak: int = 0
    late: int = 0  # records older than the window, counted in it rather than lost


AnyRecord = (
    Comment
    | ViewerCount
    | Intent
    | OrderEvent
    | MetricsSnapshot
    | StockLevels
    | SetCurrent
    | Approve
    | Reject
    | AdjustStock
    | DeadLetter
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyRecord)


class RecordError(ValueError):
    """Bytes that are not a valid record: bad JSON, unknown type or a field of the wrong shape."""


def encode(record: Record) -> bytes:
    return _encoder.encode(record)


R = TypeVar("R", bound=Record)


def checked(record: R) -> R:
    """The record as its consumer will read it: half an emoji (a lone surrogate, which JSON
    escapes allow) replaced by U+FFFD, every field within its bounds, else RecordError."""
    try:
        data = _encoder.encode(record)
    except UnicodeEncodeError:
        data = _encoder.encode(_without_surrogates(msgspec.to_builtins(record)))
    try:
        return msgspec.json.decode(data, type=type(record))
    except msgspec.DecodeError as exc:
        raise RecordError(str(exc)) from exc


def _without_surrogates(value: object) -> object:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    return value


def record_stream(record: object) -> str | None:
    """The stream a record belongs to (an intent's is its comment's): what every stage keys and
    routes it by. None for a record of no stream, or an intent without its comment."""
    if isinstance(record, Intent):
        return record.comment.stream if record.comment is not None else None
    stream = getattr(record, "stream", None)
    return stream if isinstance(stream, str) else None


def decode(data: bytes | str) -> AnyRecord:
    try:
        record: AnyRecord = _decoder.decode(data)
        return record
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise RecordError(str(exc)) from exc
