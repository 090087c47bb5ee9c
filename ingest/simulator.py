"""A simulated livestream sale: comments, viewer counts and the host's "now selling" switches.

`simulate` is pure: the same catalogs, rate, duration, seed and start time give the same records,
byte for byte, with no clock read. `run_simulate` is the shell around it (files, progress,
real-time pacing) that `chotdon simulate` calls.

A session, per stream: the host greets the viewers for a few seconds with no product shown, then
presents each product of the catalog in turn and comes back to the first at the end (A1 -> A2 ->
... -> A1). Comments arrive as a Poisson process whose rate follows the audience and jumps when a
new product is shown (a burst of "chốt", "+1"). Viewers are a population: many comment once, a
few comment often; some order several times, and the changes, cancels and most phone numbers
come from viewers who ordered shortly before. Viewer counts come every ~5 s, rising to a peak
and falling off.

    >>> from chotdon.catalog import load_catalog
    >>> records = list(simulate([load_catalog("kim-an")], rate=2, duration=30, seed=1, start_ts=0))
    >>> sorted({type(r).__name__ for r in records})
    ['Comment', 'SetCurrent', 'ViewerCount']

The bundled demo session (chotdon/data/demo_session.jsonl) is `demo_records()`; regenerate it with

    python -m ingest.simulator --catalog kim-an --rate 8 --duration 250 --seed 20251127 \
        --start-ts 1764230400 --out chotdon/data/demo_session.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import msgspec

from chotdon.catalog import Catalog, CatalogError, Product, load_catalog
from chotdon.records import Comment, IntentKind, Record, SetCurrent, ViewerCount, encode

from .comment_text import CommentTexts, strip_marks
from .sources import Pace, RecordsSource

SimRecord = Comment | ViewerCount | SetCurrent

PLATFORM = "facebook"
# The bundled demo session: kim-an, 8 comments/s for 250 s, from 2025-11-27 15:00 in Vietnam.
DEMO_CATALOG, DEMO_RATE, DEMO_DURATION, DEMO_SEED = "kim-an", 8.0, 250.0, 20251127
DEMO_START_TS = 1764230400.0
DEMO_ORDER_SHARE = 0.08  # a commune stream: most comments chat and ask; stock lasts the session
VIEWERS_EVERY_S = 5.0
INTRO_S = 15.0  # greeting before the first product, at most 6% of the session
BURST_GAIN = 1.5  # extra comment rate right after a product is shown, decaying
BURST_DECAY_S = 12.0
# Before any product is shown people greet and ask; a few order anyway (the host reviews those).
INTRO_MIX: dict[IntentKind, float] = {
    "other": 0.5,
    "question": 0.28,
    "order": 0.2,
    "contact": 0.02,
}
NEW_VIEWER = {"order": 0.5, "talk": 0.4}  # chance a comment comes from someone not seen before
ACTIVE_VIEWERS = 300  # recent commenters a comment may come from (weighted by how often)
RECENT_ORDERS = 40  # recent orderers whose changes, cancels and phones follow

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi"]
FAMILY += ["Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
FAMILY_WEIGHTS = [38, 11, 9.5, 7, 5.1, 4, 4.5, 3.9, 3, 2.1, 2, 1.4, 1.3, 1.3, 1, 0.5]
MIDDLE = {"f": ["Thị", "Thị", "Thu", "Ngọc", "Thanh", "Kim", "Minh", "Hồng", "Bích", "Phương"]}
MIDDLE["m"] = ["Văn", "Văn", "Đức", "Minh", "Hữu", "Quang", "Thanh", "Công", "Xuân", "Tiến"]
GIVEN = {
    "f": "Lan Hoa Mai Hương Hằng Thảo Trang Linh Anh Ngọc Hà Nhung Yến Phương Thủy Dung Loan Huyền"
    " Vân Hạnh Nga Thơm Liên Oanh".split(),
    "m": "Hùng Tuấn Dũng Nam Long Hải Sơn Thắng Minh Cường Phong Quân Đức Khoa Bình Tâm Huy Trung"
    " Việt Hòa".split(),
}
NICKNAMES = ["Mẹ Bin", "Mẹ Su", "Mẹ Bống", "Bé Na", "Cún Con", "Mẹ Gạo", "Bà Ngoại Tít", "Sóc Nâu"]
HOMETOWNS = ["Kim An", "Thanh Oai", "Hà Đông", "Thường Tín", "Ứng Hoà", "Phú Xuyên", "Bắc Ninh"]


# --- the session plan: when each product is shown, how many watch, how fast people comment ---


@dataclass(frozen=True, slots=True)
class Plan:
    """One stream's session, drawn up front so that comments can be generated lazily."""

    stream: str
    catalog: Catalog
    duration: float
    switches: list[tuple[float, str]]  # (seconds from start, product code), in time order
    base_viewers: float
    peak_viewers: float
    peak_at: float  # fraction of the session where the audience peaks
    intensity: list[float]  # comments per second in each 1 s bin
    order_share: float | None = None  # None: the default intent mix


def _switches(catalog: Catalog, duration: float, rng: random.Random) -> list[tuple[float, str]]:
    codes = [p.code for p in catalog.products]
    if len(codes) > 1:
        codes.append(codes[0])  # the best seller again to close the session
    intro = min(INTRO_S, 0.06 * duration)
    weights = [rng.uniform(0.75, 1.25) for _ in codes]
    span = (duration - intro) / sum(weights)
    out, at = [], intro
    for code, weight in zip(codes, weights, strict=True):
        out.append((at, code))
        at += weight * span
    return out


def _audience(x: float, peak_at: float) -> float:
    """0 at the start and the end, 1 at `peak_at` (x and peak_at are fractions of the session)."""
    if x <= 0 or x >= 1:
        return 0.0
    warped = x ** (math.log(0.5) / math.log(peak_at))  # moves the peak of sin from 0.5 to peak_at
    return float(math.sin(math.pi * warped) ** 1.3)


def _last_switch(switches: list[tuple[float, str]], t: float) -> tuple[float, str] | None:
    last = None
    for at, code in switches:
        if at > t:
            break
        last = (at, code)
    return last


def _intensity(
    switches: list[tuple[float, str]], duration: float, peak_at: float, rate: float
) -> list[float]:
    """Comments per second for each 1 s bin: more with a bigger audience, a burst after each
    switch, fewer during the greeting; scaled so that the session has rate x duration."""
    bins = math.ceil(duration)
    raw = []
    for k in range(bins):
        t = min(k + 0.5, duration)
        shown = _last_switch(switches, t)
        audience = 0.5 + 0.5 * _audience(t / duration, peak_at)
        burst = 1 + BURST_GAIN * math.exp(-(t - shown[0]) / BURST_DECAY_S) if shown else 0.6
        raw.append(audience * burst)
    widths = [min(1.0, duration - k) for k in range(bins)]
    mass = sum(r * w for r, w in zip(raw, widths, strict=True))
    scale = rate * duration / mass if mass else 0.0
    return [r * scale for r in raw]


def _plan(catalog: Catalog, stream: str, rate: float, duration: float, seed: int) -> Plan:
    rng = random.Random(seed)
    switches = _switches(catalog, duration, rng)
    base, peak, peak_at = rng.uniform(200, 300), rng.uniform(900, 1400), rng.uniform(0.35, 0.6)
    return Plan(
        stream=stream,
        catalog=catalog,
        duration=duration,
        switches=switches,
        base_viewers=base,
        peak_viewers=peak,
        peak_at=peak_at,
        intensity=_intensity(switches, duration, peak_at, rate),
    )


# --- the records ---


def _ts(start_ts: float, t: float) -> float:
    return round(start_ts + t, 3)


def _set_currents(plan: Plan, start_ts: float) -> Iterator[SetCurrent]:
    for at, code in plan.switches:
        yield SetCurrent(stream=plan.stream, code=code, ts=_ts(start_ts, at))


def _viewer_counts(plan: Plan, start_ts: float, rng: random.Random) -> Iterator[ViewerCount]:
    t = rng.uniform(0.5, VIEWERS_EVERY_S)
    wobble = 0.0
    while t < plan.duration:
        wobble = 0.7 * wobble + rng.gauss(0, 0.03)  # audiences drift, they do not jitter
        curve = _audience(t / plan.duration, plan.peak_at)
        level = plan.base_viewers + (plan.peak_viewers - plan.base_viewers) * curve
        viewers = max(1, round(level * (1 + wobble)))
        ts = _ts(start_ts, t)
        yield ViewerCount(stream=plan.stream, viewers=viewers, ts=ts, platform=PLATFORM)
        t += VIEWERS_EVERY_S + rng.uniform(-0.5, 0.5)


def _arrivals(intensity: list[float], duration: float, rng: random.Random) -> Iterator[float]:
    """Poisson arrival times for a rate that is constant within each 1 s bin: exponential gaps
    measured in expected comments, walked through the bins."""
    t, k = 0.0, 0
    while k < len(intensity):
        need = rng.expovariate(1.0)
        while k < len(intensity):
            end = min(k + 1.0, duration)
            room = intensity[k] * (end - t)
            if need < room:
                t += need / intensity[k]
                yield t
                break
            need -= room
            t, k = end, k + 1


@dataclass(slots=True)
class Viewer:
    user_id: str
    name: str
    product: Product | None = None  # what they last ordered
    phone_given: bool = False


@dataclass(slots=True)
class Audience:
    """The stream's commenters: who comments next, and who has an order to change."""

    rng: random.Random
    ids: set[str] = field(default_factory=set)
    active: list[Viewer] = field(default_factory=list)  # one entry per recent comment
    orderers: list[Viewer] = field(default_factory=list)

    def new_viewer(self) -> Viewer:
        user_id = f"fb:1000{self.rng.randrange(10**8):08d}"
        while user_id in self.ids:  # two viewers sharing an id would share an order
            user_id = f"fb:1000{self.rng.randrange(10**8):08d}"
        self.ids.add(user_id)
        return Viewer(user_id=user_id, name=display_name(self.rng))

    def anyone(self, new_chance: float) -> Viewer:
        if not self.active or self.rng.random() < new_chance:
            return self.new_viewer()
        return self.rng.choice(self.active)  # frequent commenters are drawn more often

    def recent_orderer(self) -> Viewer | None:
        return self.rng.choice(self.orderers) if self.orderers else None

    def commented(self, viewer: Viewer) -> None:
        self.active.append(viewer)
        if len(self.active) > ACTIVE_VIEWERS:
            del self.active[0]

    def ordered(self, viewer: Viewer, product: Product | None) -> None:
        viewer.product = product
        if viewer in self.orderers:
            self.orderers.remove(viewer)
        self.orderers.append(viewer)
        if len(self.orderers) > RECENT_ORDERS:
            del self.orderers[0]

    def cancelled(self, viewer: Viewer) -> None:
        viewer.product = None
        self.orderers.remove(viewer)


def display_name(rng: random.Random) -> str:
    """A Vietnamese Facebook display name: mostly full names, some given name first, without
    diacritics, or a nickname."""
    sex = rng.choice("fm")
    family = rng.choices(FAMILY, FAMILY_WEIGHTS)[0]
    given = rng.choice(GIVEN[sex])
    style = rng.random()
    if style < 0.62:
        middle = rng.choice([m for m in MIDDLE[sex] if m != given])
        return f"{family} {middle} {given}"
    if style < 0.8:
        return f"{given} {family}"  # the order Facebook shows for many profiles
    if style < 0.88:
        return strip_marks(f"{given} {family}")
    if style < 0.95:
        return rng.choice(NICKNAMES)
    return f"{given} {rng.choice(HOMETOWNS)}"


@dataclass(slots=True)
class Commenters:
    """Draws each comment: its kind for the moment of the session, its author, its text."""

    plan: Plan
    rng: random.Random
    texts: CommentTexts
    audience: Audience
    count: int = 0

    def comment(self, t: float, start_ts: float) -> Comment:
        shown = _last_switch(self.plan.switches, t)
        current = self.plan.catalog.by_code(shown[1]) if shown else None
        kind = self._kind(shown)
        viewer, about, kind = self._author(kind, current, t)
        self.audience.commented(viewer)
        text = self.texts.text(kind, current, about=about)
        self.count += 1
        return Comment(
            stream=self.plan.stream,
            comment_id=f"{self.plan.stream}:{self.count:06d}",
            user_id=viewer.user_id,
            user_name=viewer.name,
            text=text,
            ts=_ts(start_ts, t),
            platform=PLATFORM,
        )

    def _kind(self, shown: tuple[float, str] | None) -> IntentKind:
        if shown is None:
            return self.rng.choices(list(INTRO_MIX), list(INTRO_MIX.values()))[0]
        return self.texts.kind()

    def _author(
        self, kind: IntentKind, current: Product | None, t: float
    ) -> tuple[Viewer, Product | None, IntentKind]:
        """Who types it and which product it is about. A change or cancel comes from someone
        who ordered recently; with no such viewer yet it becomes an order."""
        rng, audience = self.rng, self.audience
        if kind in ("change", "cancel"):
            follower = audience.recent_orderer()
            if follower is not None:
                about = follower.product
                if kind == "cancel":
                    audience.cancelled(follower)
                return follower, about, kind
            kind = "order"
        if kind == "order":
            viewer = audience.anyone(NEW_VIEWER["order"])
            # Before any product is shown the text picks one (or none).
            about = self._ordered_product(current, t) if current is not None else None
            audience.ordered(viewer, about)
            return viewer, about, kind
        if kind == "contact":
            orderer = audience.recent_orderer() if rng.random() < 0.75 else None
            viewer = orderer if orderer and not orderer.phone_given else audience.anyone(0.4)
            viewer.phone_given = True
            return viewer, None, kind
        return audience.anyone(NEW_VIEWER["talk"]), None, kind

    def _ordered_product(self, current: Product, t: float) -> Product:
        """Mostly the product on screen, else one shown earlier, now and then any of the
        catalog (viewers read the post), so products sell out roughly in the host's order."""
        rng, catalog = self.rng, self.plan.catalog
        r = rng.random()
        if r < 0.75:
            return current
        shown = [p for at, code in self.plan.switches if at <= t if (p := catalog.by_code(code))]
        return rng.choice(shown) if r < 0.93 else rng.choice(catalog.products)


def _comments(plan: Plan, start_ts: float, rng: random.Random) -> Iterator[Comment]:
    commenters = Commenters(
        plan=plan,
        rng=rng,
        texts=CommentTexts(plan.catalog, rng, plan.order_share),
        audience=Audience(rng=rng),
    )
    for t in _arrivals(plan.intensity, plan.duration, rng):
        yield commenters.comment(t, start_ts)


def _by_ts(record: SimRecord) -> float:
    return record.ts


def _stream(
    catalog: Catalog,
    stream: str,
    rate: float,
    duration: float,
    seed: int,
    start_ts: float,
    order_share: float | None,
) -> Iterator[SimRecord]:
    plan = dataclasses.replace(
        _plan(catalog, stream, rate, duration, seed), order_share=order_share
    )
    # Separate generators for each part, so that more comments do not shift the viewer counts.
    viewers_rng, comments_rng = random.Random(seed + 1), random.Random(seed + 2)
    parts: list[Iterator[SimRecord]] = [
        _set_currents(plan, start_ts),  # first: a comment at the switch's instant sees it
        _viewer_counts(plan, start_ts, viewers_rng),
        _comments(plan, start_ts, comments_rng),
    ]
    yield from heapq.merge(*parts, key=_by_ts)


def stream_ids(catalogs: Sequence[Catalog]) -> list[str]:
    """One id a stream: the catalog's, then "-2", "-3" when a catalog serves several streams."""
    seen: Counter[str] = Counter()
    ids = []
    for catalog in catalogs:
        seen[catalog.stream] += 1
        n = seen[catalog.stream]
        ids.append(catalog.stream if n == 1 else f"{catalog.stream}-{n}")
    return ids


def stream_catalogs(catalogs: Sequence[Catalog], streams: int) -> list[Catalog]:
    """`streams` catalogs cycling through `catalogs`, each renamed to its stream's id, so that a
    runner resolving the simulated streams knows which catalog each one sells."""
    if not catalogs or streams < 1:
        raise ValueError("need at least one catalog and one stream")
    cycled = [catalogs[i % len(catalogs)] for i in range(streams)]
    return [
        msgspec.structs.replace(c, stream=sid)
        for c, sid in zip(cycled, stream_ids(cycled), strict=True)
    ]


def simulate(
    catalogs: Sequence[Catalog],
    *,
    rate: float,
    duration: float,
    seed: int,
    start_ts: float,
    order_share: float | None = None,
) -> Iterator[SimRecord]:
    """The records of one livestream per catalog, merged in timestamp order (ties keep stream
    order). `rate` is comments per second per stream, averaged over `duration` seconds;
    `order_share` the fraction of comments that order (default: the mix of CommentTexts)."""
    if rate < 0 or not math.isfinite(rate):
        raise ValueError(f"rate must be a finite number >= 0, got {rate}")
    if duration <= 0 or not math.isfinite(duration):
        raise ValueError(f"duration must be a finite number of seconds > 0, got {duration}")
    seeds = random.Random(seed)
    # A stream's seed does not depend on how many streams follow it.
    parts = [
        _stream(catalog, sid, rate, duration, seeds.getrandbits(48), start_ts, order_share)
        for catalog, sid in zip(catalogs, stream_ids(catalogs), strict=True)
    ]
    yield from heapq.merge(*parts, key=_by_ts)


def demo_records() -> Iterator[SimRecord]:
    """The bundled demo session: the guava catalog, ~2,000 comments over ~4 minutes."""
    return simulate(
        [load_catalog(DEMO_CATALOG)],
        rate=DEMO_RATE,
        duration=DEMO_DURATION,
        seed=DEMO_SEED,
        start_ts=DEMO_START_TS,
        order_share=DEMO_ORDER_SHARE,
    )


# --- the shell: files, progress, pacing ---


def write_jsonl(records: Iterable[Record], file: IO[bytes]) -> int:
    """Write each record as one JSON line; returns how many."""
    n = 0
    for record in records:
        file.write(encode(record) + b"\n")
        n += 1
    return n


def paced(
    records: Iterable[SimRecord],
    start_ts: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[SimRecord]:
    """The records, each released when as much time has passed as its ts is after `start_ts`."""
    began = clock()
    for record in records:
        wait = (record.ts - start_ts) - (clock() - began)
        if wait > 0:
            sleep(wait)
        yield record


def _with_progress(
    records: Iterable[SimRecord], start_ts: float, duration: float, err: IO[str]
) -> Iterator[SimRecord]:
    step = 10
    for n, record in enumerate(records):
        done = int(100 * (record.ts - start_ts) / duration)
        while done >= step and step < 100:
            print(f"chotdon simulate: {step}% ({n:,} records)", file=err, flush=True)
            step += 10
        yield record


def run_simulate(
    catalogs: Sequence[str | Path],
    *,
    rate: float,
    duration: float,
    streams: int = 1,
    seed: int = 0,
    out: str | Path | None = None,
    realtime: bool = False,
    start_ts: float | None = None,
    order_share: float | None = None,
    stdout: IO[bytes] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """`chotdon simulate`: write the simulated records as JSON Lines to `out` (or stdout).
    Progress goes to stderr every 10% for long runs and real-time ones. Returns the exit code."""
    err = stderr if stderr is not None else sys.stderr
    loaded = stream_catalogs([load_catalog(c) for c in catalogs], streams)
    start = time.time() if start_ts is None else start_ts
    records: Iterable[SimRecord] = simulate(
        loaded, rate=rate, duration=duration, seed=seed, start_ts=start, order_share=order_share
    )
    if realtime:
        records = paced(records, start)
    if realtime or rate * duration * streams >= 20_000:
        records = _with_progress(records, start, duration, err)
    kinds: Counter[str] = Counter()
    records = _tally(records, kinds)
    try:
        if out is not None:
            with open(out, "wb") as file:
                _write(records, file, flush_each=realtime)
        else:
            _write(records, stdout or sys.stdout.buffer, flush_each=realtime)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        if out is None and stdout is None:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    print(
        f"chotdon simulate: {kinds['Comment']:,} comments, {kinds['ViewerCount']:,} viewer counts,"
        f" {kinds['SetCurrent']:,} product switches in {streams} stream(s)"
        + (f" -> {out}" if out is not None else ""),
        file=err,
    )
    return 0


def _tally(records: Iterable[SimRecord], kinds: Counter[str]) -> Iterator[SimRecord]:
    for record in records:
        kinds[type(record).__name__] += 1
        yield record


def _write(records: Iterable[SimRecord], file: IO[bytes], flush_each: bool) -> None:
    if not flush_each:
        write_jsonl(records, file)
        file.flush()
        return
    for record in records:
        file.write(encode(record) + b"\n")
        file.flush()  # a reader downstream sees each record at its time


def add_simulator_source_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of `--source simulator` (in `chotdon run` and `chotdon ingest`)."""
    sim = p.add_argument_group("with --source simulator (as in `chotdon simulate`)")
    sim.add_argument("--rate", type=float, default=5.0, help="comments/s per stream (default 5)")
    sim.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    sim.add_argument("--streams", type=int, default=1, help="number of livestreams (default 1)")
    sim.add_argument("--seed", type=int, default=0, help="same seed, same records (default 0)")
    sim.add_argument("--start-ts", type=float, help="unix time of the session start (default now)")
    sim.add_argument(
        "--order-share", type=float, help="fraction of comments that order (default about 0.38)"
    )


def simulator_source(
    args: argparse.Namespace, catalogs: Sequence[Catalog], pace: Pace
) -> tuple[list[Catalog], RecordsSource]:
    """The catalogs of the simulated streams (one a stream) and the paced source of their records,
    from `add_simulator_source_arguments` flags. Raises ValueError on impossible flags."""
    if args.streams < 1 or args.rate < 0 or args.duration <= 0:
        raise ValueError("need --streams >= 1, --rate >= 0, --duration > 0")
    streams = stream_catalogs(catalogs, args.streams)
    start = time.time() if args.start_ts is None else args.start_ts
    records = simulate(
        streams,
        rate=args.rate,
        duration=args.duration,
        seed=args.seed,
        start_ts=start,
        order_share=args.order_share,
    )
    return streams, RecordsSource("simulator", records, pace)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of `chotdon simulate`, for the CLI's sub-parser."""
    p.add_argument(
        "--catalog",
        action="append",
        required=True,
        help="catalog JSON file or bundled name; repeat for several (streams cycle through them)",
    )
    p.add_argument("--rate", type=float, default=5.0, help="comments/s per stream (default 5)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--streams", type=int, default=1, help="number of livestreams (default 1)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same records (default 0)")
    p.add_argument("--start-ts", type=float, help="unix time of the session start (default now)")
    p.add_argument("--out", help="write JSON Lines here instead of stdout")
    p.add_argument("--realtime", action="store_true", help="emit each record at its time")
    p.add_argument(
        "--order-share", type=float, help="fraction of comments that order (default about 0.38)"
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    """`chotdon simulate` from parsed `add_arguments` flags."""
    if args.streams < 1 or args.rate < 0 or args.duration <= 0:
        print("chotdon simulate: need --streams >= 1, --rate >= 0, --duration > 0", file=sys.stderr)
        return 2
    return run_simulate(
        args.catalog,
        rate=args.rate,
        duration=args.duration,
        streams=args.streams,
        seed=args.seed,
        out=args.out,
        realtime=args.realtime,
        start_ts=args.start_ts,
        order_share=args.order_share,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ingest.simulator`: the same as `chotdon simulate`."""
    p = argparse.ArgumentParser(prog="python -m ingest.simulator", description=__doc__)
    add_arguments(p)
    try:
        return cmd_simulate(p.parse_args(argv))
    except CatalogError as exc:
        print(f"chotdon simulate: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
