"""The distributed mode's read store in Redis: the key layout, the idempotent writes the Redis sink
makes, and the consistent read the feed rebuilds its views from.

Every key of a livestream carries the stream id as a Redis Cluster hash tag (`<prefix>:{stream}:…`),
so one stream's keys share a slot and one Lua script may update them together, atomically.

Events arrive at least once, so every write is idempotent and happens in a Lua script that checks
a version first (an order's `seq`, a Kafka offset, a `ts`, a comment id): a re-delivered or older
record changes nothing and is not announced. A write that changed something INCRs the stream's
`version` and PUBLISHes `{"n": version, "record": <record JSON>}` (or `"catalog"`) on its notify
channel in the same script, so a reader that loads a stream (version included, in one script) and
applies only notifications with a greater `n` sees every change exactly once.

Redis is a view of Kafka. With each batch the sink stores, in the same MULTI/EXEC, how far it has
applied each Kafka partition (`<prefix>:applied:<topic>:<partition>`, the next offset), and before
writing it checks, under WATCH, that Redis still holds every partition as far as the sink left it.
A Redis restarted without its data, or a replica promoted while behind, holds less (or nothing):
`write` then writes nothing and says from which offset each partition must be read again, and the
sink rebuilds the view from Kafka. A connection lost between the check and the write is a
WatchError, never a silent retry onto a Redis that came back empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from chotdon.catalog import Catalog, parse_catalog
from chotdon.records import (
    AnyRecord,
    Intent,
    MetricsSnapshot,
    OrderEvent,
    SetCurrent,
    StockLevels,
    ViewerCount,
    decode,
    encode,
    record_stream,
)
from sinks.feed.view import status_of

FEED_MAXLEN = 100_000  # order events kept in a stream's feed (approximately); orders keep all

_COMMON = """
local function notify(version_key, channel, body)
  local n = redis.call('INCR', version_key)
  redis.call('PUBLISH', channel, '{"n":' .. n .. ',' .. body .. '}')
end
-- whether the record at (partition, offset) comes after the stored position "partition:offset";
-- another partition means the topic was re-created or re-partitioned: the newest layout wins
local function after(stored, partition, offset)
  if not stored then return true end
  local p, o = string.match(stored, '^(%d+):(%d+)$')
  return p ~= partition or tonumber(offset) > tonumber(o)
end
"""

# KEYS feed, order, orders, version
# ARGV seq, order_id, kind, status, total, customer, customer_name, phone, lines, ts, event,
#      maxlen, channel
_ORDER = (
    _COMMON
    + """
local seq = tonumber(ARGV[1])
-- the feed's last id is the stream's highest seq: Redis itself refuses an event seen before
local added = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[12], ARGV[1] .. '-0',
  'order_id', ARGV[2], 'kind', ARGV[3], 'event', ARGV[11])
if type(added) == 'table' and added.err then
  if string.find(added.err, 'equal or smaller', 1, true) then return 0 end
  return redis.error_reply(added.err)
end
-- the order keeps its own seq: it stays right even if the feed was trimmed away or deleted
local old = redis.call('HGET', KEYS[2], 'seq')
if old and tonumber(old) >= seq then return 0 end
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'kind', ARGV[3], 'status', ARGV[4],
  'total', ARGV[5], 'customer', ARGV[6], 'customer_name', ARGV[7], 'phone', ARGV[8],
  'lines', ARGV[9], 'ts', ARGV[10], 'event', ARGV[11])
redis.call('ZADD', KEYS[3], seq, ARGV[2])
notify(KEYS[4], ARGV[13], '"record":' .. ARGV[11])
return 1
"""
)

# StockLevels and window snapshots are whole states without a seq; their ts can move backwards
# (a late comment's), but one stream stays on one partition, where the later record is the newer
# state: their Kafka position is their version.

# KEYS stock, version
# ARGV partition, offset, remaining, reserved, waiting, ts, record, channel, variants
_STOCK = (
    _COMMON
    + """
if not after(redis.call('HGET', KEYS[1], 'at'), ARGV[1], ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'at', ARGV[1] .. ':' .. ARGV[2], 'remaining', ARGV[3],
  'reserved', ARGV[4], 'waiting', ARGV[5], 'ts', ARGV[6], 'record', ARGV[7],
  'variants', ARGV[9])
notify(KEYS[2], ARGV[8], '"record":' .. ARGV[7])
return 1
"""
)

# KEYS latest, windows, positions, version
# ARGV window_start, snapshot, partition, offset, channel, then field/value pairs of the latest
# A window is sent again as it fills (the worker's open windows at each checkpoint) and after a
# worker's restart: the windows hash keeps each window's newest snapshot, the latest hash the
# newest window's.
_METRICS = (
    _COMMON
    + """
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then return 0 end
if not after(redis.call('HGET', KEYS[3], ARGV[1]), ARGV[3], ARGV[4]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3] .. ':' .. ARGV[4])
local latest = redis.call('HGET', KEYS[1], 'window_start')
if not latest or tonumber(latest) <= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], unpack(ARGV, 6))
end
notify(KEYS[4], ARGV[5], '"record":' .. ARGV[2])
return 1
"""
)

# KEYS summary, version; ARGV viewers, ts, record, channel
# The latest count by ts (a tie: the later in the partition) and the peak.
_VIEWERS = (
    _COMMON
    + """
local s = redis.call('HMGET', KEYS[1], 'viewers', 'viewers_ts', 'viewers_peak')
local viewers, ts = tonumber(ARGV[1]), tonumber(ARGV[2])
if not s[3] or viewers > tonumber(s[3]) then
  redis.call('HSET', KEYS[1], 'viewers_peak', ARGV[1])
end
if s[2] and (ts < tonumber(s[2]) or (ts == tonumber(s[2]) and viewers == tonumber(s[1]))) then
  return 0
end
redis.call('HSET', KEYS[1], 'viewers', ARGV[1], 'viewers_ts', ARGV[2])
notify(KEYS[2], ARGV[4], '"record":' .. ARGV[3])
return 1
"""
)

# KEYS summary, version; ARGV code ('' for none), ts, rank, record, channel
# The latest by (ts, rank): the host's action beats the source's SetCurrent of the same instant
# (the host's page stamps actions with the stream's latest ts, so the action came after it).
_CURRENT = (
    _COMMON
    + """
local s = redis.call('HMGET', KEYS[1], 'current', 'current_ts', 'current_rank')
local ts, rank = tonumber(ARGV[2]), tonumber(ARGV[3])
if s[2] then
  local old_ts, old_rank = tonumber(s[2]), tonumber(s[3])
  if ts < old_ts or (ts == old_ts and rank < old_rank) then return 0 end
end
redis.call('HSET', KEYS[1], 'current', ARGV[1], 'current_ts', ARGV[2], 'current_rank', ARGV[3])
if s[1] == ARGV[1] then return 0 end
notify(KEYS[2], ARGV[5], '"record":' .. ARGV[4])
return 1
"""
)

# KEYS comments, summary, version; ARGV channel, then comment_id, text, record of each comment
# One field per comment id: the count is exact however often an intent arrives, and the texts
# are there for the review queue when the feed restarts. The comments of a stream in a batch
# go in one call; it returns 1 or 0 (seen before) for each.
_COMMENTS = (
    _COMMON
    + """
local stored, added = {}, false
for i = 2, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    notify(KEYS[3], ARGV[1], '"record":' .. ARGV[i + 2])
    stored[#stored + 1], added = 1, true
  else
    stored[#stored + 1] = 0
  end
end
if added then redis.call('HSET', KEYS[2], 'comments', redis.call('HLEN', KEYS[1])) end
return stored
"""
)

# KEYS catalog, version; ARGV catalog, channel
_CATALOG = (
    _COMMON
    + """
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
notify(KEYS[2], ARGV[2], '"catalog":' .. ARGV[1])
return 1
"""
)

# KEYS version, catalog, orders, summary, stock; ARGV the order keys' prefix
# One script, so the state and its version are one instant's. The order hashes it reads are not
# in KEYS (there are too many), but share the stream's hash tag, so the slot is the same.
_LOAD = """
local ids = redis.call('ZRANGE', KEYS[3], 0, -1)
local events = {}
for i, id in ipairs(ids) do events[i] = redis.call('HGET', ARGV[1] .. id, 'event') end
return {redis.call('GET', KEYS[1]) or '0', redis.call('GET', KEYS[2]) or '',
  redis.call('HGETALL', KEYS[4]), redis.call('HGET', KEYS[5], 'record') or '', events}
"""


class Keys:
    """The key layout (see the README): `<prefix>:{<stream>}:<what>`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.streams = f"{prefix}:streams"  # set of the streams seen
        # channels are matched as a glob: escape the prefix's own glob characters
        escaped = "".join("\\" + ch if ch in "*?[]\\" else ch for ch in prefix)
        self.notify_pattern = f"{escaped}:*:notify"

    def of(self, stream: str, what: str) -> str:
        return f"{self.prefix}:{{{stream}}}:{what}"

    def order(self, stream: str, order_id: str) -> str:
        return self.of(stream, f"order:{order_id}")

    def metrics(self, stream: str, window_s: int) -> str:
        return self.of(stream, f"metrics:{window_s}")

    def windows(self, stream: str, window_s: int) -> str:
        return self.of(stream, f"metrics:{window_s}:windows")

    def applied(self, topic: str, partition: int) -> str:
        """The next offset of the partition that the sink has not applied yet."""
        return f"{self.prefix}:applied:{topic}:{partition}"

    def stream_of(self, channel: str) -> str | None:
        """The stream of a notify channel, or None for a channel that is not one."""
        head, tail = f"{self.prefix}:{{", "}:notify"
        if channel.startswith(head) and channel.endswith(tail):
            return channel[len(head) : -len(tail)]
        return None


@dataclass(frozen=True, slots=True)
class Entry:
    """A record to store, with where it came from (its version, for the records that need one)."""

    record: AnyRecord | Catalog
    partition: int = 0
    offset: int = 0
    from_host: bool = False  # a SetCurrent from the host's actions (see _CURRENT)


Partition = tuple[str, int]  # a Kafka topic and partition


@dataclass(frozen=True, slots=True)
class Span:
    """One Kafka partition of a batch. Before the batch is written, Redis must hold the partition
    up to `start` (from `floor`, the first offset Kafka still has: nothing before it can be read
    again); once the batch is written, it holds it up to `end`."""

    start: int
    end: int
    floor: int = 0

    def held(self, applied: int | None) -> bool:
        return max(self.floor, -1 if applied is None else applied) >= self.start


@dataclass
class WriteResult:
    applied: list[Entry] = field(default_factory=list)  # changed Redis
    repeated: list[Entry] = field(default_factory=list)  # already stored (or older): no change
    ignored: int = 0  # records the store keeps nothing of
    refused: list[tuple[Entry, str]] = field(default_factory=list)  # Redis said no
    # partitions Redis holds less of than the spans said (it lost data): how far it holds each
    # (None: nothing). Nothing was written; read them again from there.
    behind: dict[Partition, int | None] = field(default_factory=dict)

    @property
    def written(self) -> int:
        return len(self.applied)

    @property
    def duplicates(self) -> int:
        return len(self.repeated)


def _json(value: Any) -> bytes:
    return msgspec.json.encode(value)


class RedisStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        r = redis
        self._order = r.register_script(_ORDER)
        self._stock = r.register_script(_STOCK)
        self._metrics = r.register_script(_METRICS)
        self._viewers = r.register_script(_VIEWERS)
        self._current = r.register_script(_CURRENT)
        self._comments = r.register_script(_COMMENTS)
        self._catalog = r.register_script(_CATALOG)
        self._load = r.register_script(_LOAD)

    # -- writing ------------------------------------------------------------------------------

    async def write(
        self, entries: Sequence[Entry], spans: Mapping[Partition, Span] | None = None
    ) -> WriteResult:
        """Store the entries in order, in one transaction, if Redis holds every partition of
        `spans` up to its start (else write nothing and report `behind`); then mark each as held
        up to its end. Raises on a connection error or WatchError (nothing is known to be
        written: check and write them all again); a record Redis refuses is reported."""
        result = WriteResult()
        spans = spans or {}
        parts = sorted(spans)
        markers = [self.keys.applied(topic, partition) for topic, partition in parts]
        queued: list[list[Entry]] = []  # the entries of each command queued, in order
        streams: set[str] = set()
        async with self.redis.pipeline(transaction=True) as pipe:
            if markers:
                await pipe.watch(*markers)
                for part, value in zip(parts, await pipe.mget(markers), strict=True):
                    held = None if value is None else int(value)
                    if not spans[part].held(held):
                        result.behind[part] = held
                if result.behind:
                    return result
            pipe.multi()  # type: ignore[no-untyped-call]
            commands = self._commands(entries)
            result.ignored = len(entries) - sum(len(group) for _, group in commands)
            for stream, group in commands:
                if await self._queue(pipe, stream, group):
                    queued.append(group)
                    streams.add(stream)
                else:
                    result.ignored += len(group)
            if streams:
                pipe.sadd(self.keys.streams, *sorted(streams))
            moved = {
                key: spans[part].end
                for key, part in zip(markers, parts, strict=True)
                if spans[part].end > spans[part].start
            }
            if moved:
                pipe.mset(moved)
            replies = await pipe.execute(raise_on_error=False) if queued or moved else []
        for group, reply in zip(queued, replies, strict=False):  # then the SADD's and MSET's
            if isinstance(reply, ResponseError):
                result.refused += [(entry, str(reply)) for entry in group]
                continue
            for entry, stored in zip(
                group, reply if isinstance(reply, list) else [reply], strict=True
            ):
                (result.applied if stored == 1 else result.repeated).append(entry)
        return result

    @staticmethod
    def _commands(entries: Sequence[Entry]) -> list[tuple[str, list[Entry]]]:
        """The entries as commands, in order: one per entry, but the comments of a stream (the
        intents that carry one) in one, where its first comment is. Only one stream's records
        are ordered among themselves, and the intents come before the order events."""
        commands: list[tuple[str, list[Entry]]] = []
        comments: dict[str, list[Entry]] = {}
        for entry in entries:
            record = entry.record
            stream = record_stream(record)
            if stream is None:
                continue
            if isinstance(record, Intent) and record.comment is not None:
                group = comments.get(stream)
                if group is None:
                    group = comments[stream] = []
                    commands.append((stream, group))
                group.append(entry)
            else:
                commands.append((stream, [entry]))
        return commands

    async def _queue(self, pipe: Any, stream: str, entries: list[Entry]) -> bool:
        """Queue the script of a command (`_commands`) on the pipeline; False for a record kept
        nowhere."""
        k, entry = self.keys, entries[0]
        record = entry.record
        channel = k.of(stream, "notify")
        version = k.of(stream, "version")
        if isinstance(record, Intent) and record.comment is not None:
            comments: list[Any] = [channel]
            for e in entries:
                assert isinstance(e.record, Intent) and e.record.comment is not None
                comments += [e.record.comment.comment_id, e.record.comment.text, encode(e.record)]
            await self._comments(
                keys=[k.of(stream, "comments"), k.of(stream, "summary"), version],
                args=comments,
                client=pipe,
            )
        elif isinstance(record, OrderEvent):
            await self._order(
                keys=[
                    k.of(stream, "feed"),
                    k.order(stream, record.order_id),
                    k.of(stream, "orders"),
                    version,
                ],
                args=[
                    record.seq,
                    record.order_id,
                    record.kind,
                    status_of(record.lines),
                    record.total,
                    record.customer,
                    record.customer_name,
                    record.phone or "",
                    _json(record.lines),
                    repr(record.ts),
                    encode(record),
                    FEED_MAXLEN,
                    channel,
                ],
                client=pipe,
            )
        elif isinstance(record, StockLevels):
            await self._stock(
                keys=[k.of(stream, "stock"), version],
                args=[
                    entry.partition,
                    entry.offset,
                    _json(record.remaining),
                    _json(record.reserved),
                    _json(record.waiting),
                    repr(record.ts),
                    encode(record),
                    channel,
                    _json(record.variants),
                ],
                client=pipe,
            )
        elif isinstance(record, MetricsSnapshot):
            snapshot = encode(record)
            latest: list[Any] = []
            for name, value in msgspec.structs.asdict(record).items():
                if name not in ("type", "v", "stream"):
                    latest += [name, _json(value) if isinstance(value, dict) else repr(value)]
            await self._metrics(
                keys=[
                    k.metrics(stream, record.window_s),
                    k.windows(stream, record.window_s),
                    k.of(stream, f"metrics:{record.window_s}:at"),
                    version,
                ],
                args=[
                    repr(record.window_start),
                    snapshot,
                    entry.partition,
                    entry.offset,
                    channel,
                    *latest,
                    "record",
                    snapshot,
                ],
                client=pipe,
            )
        elif isinstance(record, ViewerCount):
            await self._viewers(
                keys=[k.of(stream, "summary"), version],
                args=[record.viewers, repr(record.ts), encode(record), channel],
                client=pipe,
            )
        elif isinstance(record, SetCurrent):
            await self._current(
                keys=[k.of(stream, "summary"), version],
                args=[
                    record.code or "",
                    repr(record.ts),
                    int(entry.from_host),
                    encode(record),
                    channel,
                ],
                client=pipe,
            )
        elif isinstance(record, Catalog):
            await self._catalog(
                keys=[k.of(stream, "catalog"), version], args=[_json(record), channel], client=pipe
            )
        else:
            return False
        return True

    # -- reading ------------------------------------------------------------------------------

    async def load(self, stream: str) -> StoredStream:
        """The stream as stored at one instant, with the version of that instant."""
        k = self.keys
        version, catalog, summary, stock, events = await self._load(
            keys=[
                k.of(stream, "version"),
                k.of(stream, "catalog"),
                k.of(stream, "orders"),
                k.of(stream, "summary"),
                k.of(stream, "stock"),
            ],
            args=[k.order(stream, "")],
        )
        fields = {
            _text(name): _text(value)
            for name, value in zip(summary[::2], summary[1::2], strict=True)
        }
        stored = StoredStream(
            stream=stream,
            version=int(version),
            catalog=msgspec.json.decode(catalog, type=Catalog) if catalog else None,
            events=[e for data in events if data and isinstance(e := decode(data), OrderEvent)],
            stock=msgspec.json.decode(stock, type=StockLevels) if stock else None,
            viewers=int(fields.get("viewers", 0)),
            viewers_peak=int(fields.get("viewers_peak", 0)),
            current=fields.get("current") or None,
            comments=int(fields.get("comments", 0)),
        )
        # comment texts never change once written, so reading them apart is still consistent
        wanted = sorted(stored.review_comment_ids())
        if wanted:
            texts = await self.redis.hmget(k.of(stream, "comments"), wanted)
            stored.texts = {cid: _text(t) for cid, t in zip(wanted, texts, strict=True) if t}
        return stored

    async def streams(self) -> list[str]:
        return sorted(_text(s) for s in await self.redis.smembers(self.keys.streams))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


ANSWERED_TTL = 8 * 24 * 3600  # seconds; a comment can be answered for 7 days (Private Reply)


class RedisAnswered:
    """The comments answered on their platforms (`Answered`, see stream_jobs.confirm) in the
    distributed mode: a set per stream, `<prefix>:{stream}:answered`, kept a week after its last
    reply, so a restarted `chotdon confirm` (or another replica) never answers one twice: a
    claim is one SADD, which says whether it added the comment."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.keys = Keys(prefix)

    async def answered(self, stream: str, comment: str) -> bool:
        return bool(await self.redis.sismember(self.keys.of(stream, "answered"), comment))

    async def claim(self, stream: str, comment: str) -> bool:
        key = self.keys.of(stream, "answered")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, comment)
            pipe.expire(key, ANSWERED_TTL)
            added, _ = await pipe.execute()
        return bool(added)

    async def release(self, stream: str, comment: str) -> None:
        await self.redis.srem(self.keys.of(stream, "answered"), comment)


@dataclass
class StoredStream:
    stream: str
    version: int
    catalog: Catalog | None
    events: list[OrderEvent]  # each order's latest event, by seq
    stock: StockLevels | None
    viewers: int
    viewers_peak: int
    current: str | None
    comments: int
    texts: dict[str, str] = field(default_factory=dict)  # of the comments awaiting review

    def review_comment_ids(self) -> set[str]:
        return {
            line.review_id.split("#", 1)[0]
            for event in self.events
            for line in event.lines
            if line.status == "review" and line.review_id
        }


def parse_catalog_record(data: bytes) -> Catalog:
    """A CATALOG topic record: the catalog document (as in chotdon/data/*.json), optionally with
    `type` and `v` like the other records. Raises ValueError (CatalogError is one)."""
    return parse_catalog(json.loads(data))
