"""The livestream simulator and the bundled demo session it generated."""

from __future__ import annotations

import argparse
import io
import itertools
import re
from collections import Counter, defaultdict
from functools import cache
from importlib import resources
from pathlib import Path

import pytest

from chotdon.catalog import Catalog, load_catalog
from chotdon.records import Comment, Intent, SetCurrent, ViewerCount, decode, encode
from ingest.simulator import (
    SimRecord,
    add_arguments,
    cmd_simulate,
    paced,
    run_simulate,
    simulate,
    stream_catalogs,
    stream_ids,
    write_jsonl,
)
from parsers import Parser

T0 = 1_764_230_400.0


@cache
def kim_an() -> Catalog:
    return load_catalog("kim-an")


@cache
def session(seed: int = 5, rate: float = 8, duration: float = 250) -> tuple[SimRecord, ...]:
    return tuple(simulate([kim_an()], rate=rate, duration=duration, seed=seed, start_ts=T0))


def comments(records: tuple[SimRecord, ...] | list[SimRecord]) -> list[Comment]:
    return [r for r in records if isinstance(r, Comment)]


def parsed(records: tuple[SimRecord, ...] | list[SimRecord]) -> list[tuple[Comment, Intent]]:
    """Each comment with its intent, parsed with the product shown when it was typed."""
    parser, current, out = Parser(kim_an()), None, []
    for r in records:
        if isinstance(r, SetCurrent):
            current = r.code
        elif isinstance(r, Comment):
            out.append((r, parser.parse(r.text, current)))
    return out


# --- determinism, order, volume ---


def test_the_same_seed_gives_the_same_records() -> None:
    def run(seed: int) -> list[bytes]:
        records = simulate([kim_an()], rate=5, duration=60, seed=seed, start_ts=T0)
        return [encode(r) for r in records]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_records_come_in_timestamp_order_across_streams() -> None:
    catalogs = [kim_an(), load_catalog("phu-xuyen"), kim_an()]
    records = list(simulate(catalogs, rate=6, duration=90, seed=1, start_ts=T0))
    stamps = [r.ts for r in records]
    assert stamps == sorted(stamps)
    assert stamps[0] >= T0 and stamps[-1] < T0 + 90


@pytest.mark.parametrize(("rate", "duration", "streams"), [(8, 250, 1), (5, 200, 3), (40, 30, 2)])
def test_the_comment_count_follows_rate_duration_and_streams(
    rate: float, duration: float, streams: int
) -> None:
    records = simulate([kim_an()] * streams, rate=rate, duration=duration, seed=9, start_ts=T0)
    expected = rate * duration * streams
    assert abs(len(comments(list(records))) - expected) < 0.1 * expected


def test_a_rate_of_zero_still_streams_viewers_and_the_host() -> None:
    records = list(simulate([kim_an()], rate=0, duration=60, seed=1, start_ts=T0))
    assert comments(records) == []
    assert any(isinstance(r, ViewerCount) for r in records)
    assert any(isinstance(r, SetCurrent) for r in records)


def test_impossible_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        list(simulate([kim_an()], rate=-1, duration=60, seed=1, start_ts=T0))
    with pytest.raises(ValueError, match="duration"):
        list(simulate([kim_an()], rate=1, duration=0, seed=1, start_ts=T0))


# --- streams ---


def test_a_catalog_used_for_several_streams_gets_suffixed_ids() -> None:
    px = load_catalog("phu-xuyen")
    catalogs = [kim_an(), px, kim_an(), kim_an()]
    ids = ["kim-an-oi", px.stream, "kim-an-oi-2", "kim-an-oi-3"]
    assert stream_ids(catalogs) == ids
    records = list(simulate(catalogs, rate=2, duration=30, seed=1, start_ts=T0))
    assert {r.stream for r in records} == set(ids)
    cycled = stream_catalogs([kim_an(), px], 4)
    assert [c.stream for c in cycled] == [ids[0], ids[1], ids[2], f"{px.stream}-2"]


def test_adding_streams_leaves_the_first_stream_unchanged() -> None:
    one = list(simulate([kim_an()], rate=4, duration=60, seed=7, start_ts=T0))
    two = simulate([kim_an(), kim_an()], rate=4, duration=60, seed=7, start_ts=T0)
    assert [r for r in two if r.stream == "kim-an-oi"] == one


# --- the session: host, viewers, comments ---


def test_the_host_greets_then_shows_each_product_and_the_first_again() -> None:
    switches = [r for r in session() if isinstance(r, SetCurrent)]
    assert [s.code for s in switches] == ["A1", "A2", "A3", "A4", "A5", "A1"]
    assert switches[0].ts > T0  # a greeting with no product shown
    assert all(s.stream == "kim-an-oi" for s in switches)


def test_comments_name_the_product_being_shown() -> None:
    shown = {p.code: p.sku for p in kim_an().products}
    hits = total = 0
    current = None
    parser = Parser(kim_an())
    for r in session():
        if isinstance(r, SetCurrent):
            current = r.code
        elif isinstance(r, Comment) and current:
            # parsed without the current product: only what the text itself names
            skus = {i.sku for i in parser.parse(r.text, None).items}
            if skus:
                total += 1
                hits += shown[current] in skus
    assert hits / total > 0.6


def test_viewer_counts_come_every_five_seconds_rising_then_falling() -> None:
    counts = [r for r in session() if isinstance(r, ViewerCount)]
    gaps = [b.ts - a.ts for a, b in itertools.pairwise(counts)]
    assert all(4 <= g <= 6 for g in gaps)
    levels = [c.viewers for c in counts]
    top = max(levels)
    assert min(levels) >= 150 and top <= 1700  # a commune stream: ~200 to ~1,500
    assert levels[0] < top / 2 and levels[-1] < top / 2
    assert 0.2 < levels.index(top) / len(levels) < 0.8


def test_comments_burst_when_a_product_is_shown() -> None:
    records = session()
    stamps = [c.ts for c in comments(records)]
    switches = [r.ts for r in records if isinstance(r, SetCurrent)][1:]
    after = sum(sum(s <= t < s + 10 for t in stamps) for s in switches)
    before = sum(sum(s - 10 <= t < s for t in stamps) for s in switches)
    assert after > 1.3 * before


def test_the_intent_mix_is_realistic() -> None:
    kinds = Counter(i.intent for _, i in parsed(session()))
    n = sum(kinds.values())
    share = {k: v / n for k, v in kinds.items()}
    assert 0.3 <= share["order"] <= 0.45
    assert 0.12 <= share["question"] <= 0.3
    assert 0.15 <= share["other"] <= 0.35
    for kind in ("change", "cancel", "contact"):
        assert 0.02 <= share[kind] <= 0.08


def test_viewers_are_a_population_with_regulars_and_repeat_buyers() -> None:
    found = parsed(session())
    users = Counter(c.user_id for c, _ in found)
    assert all(u.startswith("fb:") and u[3:].isdigit() for u in users)
    assert 0.2 < len(users) / len(found) < 0.6  # many comment once, some often
    orders = Counter(c.user_id for c, i in found if i.intent == "order")
    assert sum(n >= 2 for n in orders.values()) >= 20
    names = {c.user_name for c, _ in found}
    assert any(n.startswith("Nguyễn Thị ") for n in names)
    assert all(len({c.user_name for c, _ in found if c.user_id == u}) == 1 for u in users)


def test_changes_and_cancels_follow_an_order_by_the_same_viewer() -> None:
    ordered: set[str] = set()
    follow_ups = after_order = 0
    contacts = contacts_after_order = 0
    for c, i in parsed(session()):
        if i.intent in ("change", "cancel"):
            follow_ups += 1
            after_order += c.user_id in ordered
        elif i.intent == "contact":
            contacts += 1
            contacts_after_order += c.user_id in ordered
        elif i.intent == "order":
            ordered.add(c.user_id)
    assert after_order / follow_ups > 0.9
    assert contacts_after_order / contacts > 0.5


def test_comment_ids_are_unique_and_name_their_stream() -> None:
    records = list(simulate([kim_an(), kim_an()], rate=5, duration=60, seed=2, start_ts=T0))
    ids = [c.comment_id for c in comments(records)]
    assert len(ids) == len(set(ids))
    assert all(c.comment_id.startswith(c.stream + ":") for c in comments(records))


# --- the shell ---


def test_write_jsonl_writes_one_decodable_record_a_line() -> None:
    records = list(simulate([kim_an()], rate=3, duration=20, seed=1, start_ts=T0))
    buf = io.BytesIO()
    assert write_jsonl(records, buf) == len(records)
    assert [decode(line) for line in buf.getvalue().splitlines()] == records


def test_run_simulate_writes_the_records_and_a_summary(tmp_path: object) -> None:
    out = f"{tmp_path}/session.jsonl"
    err = io.StringIO()
    code = run_simulate(
        ["kim-an", "phu-xuyen"], rate=4, duration=30, streams=3, seed=1, out=out, start_ts=T0,
        stderr=err,
    )  # fmt: skip
    assert code == 0
    with open(out, "rb") as f:
        records = [decode(line) for line in f]
    assert {r.stream for r in records if isinstance(r, Comment)} == {
        "kim-an-oi",
        load_catalog("phu-xuyen").stream,
        "kim-an-oi-2",
    }
    assert "3 stream(s)" in err.getvalue() and "%" not in err.getvalue()


def test_run_simulate_reports_progress_on_long_runs() -> None:
    stdout, err = io.BytesIO(), io.StringIO()
    run_simulate(["kim-an"], rate=200, duration=100, seed=1, start_ts=T0, stdout=stdout, stderr=err)
    progress = [line for line in err.getvalue().splitlines() if "%" in line]
    assert [p.split()[2] for p in progress] == [f"{n}%" for n in range(10, 100, 10)]
    assert len(stdout.getvalue().splitlines()) > 18_000


def test_realtime_pacing_waits_for_each_record_time() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    records = list(simulate([kim_an()], rate=1, duration=20, seed=1, start_ts=T0))
    out = list(paced(records, T0, clock=lambda: now[0], sleep=sleep))
    assert out == records
    assert sum(slept) == pytest.approx(records[-1].ts - T0)
    assert all(s > 0 for s in slept)


def test_the_cli_flags() -> None:
    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--catalog", "kim-an", "--catalog", "phu-xuyen", "--streams", "0"])
    assert args.catalog == ["kim-an", "phu-xuyen"] and args.rate == 5.0 and not args.realtime
    assert cmd_simulate(args) == 2


# --- the bundled demo session ---


@cache
def demo() -> list[SimRecord]:
    path = resources.files("chotdon") / "data" / "demo_session.jsonl"
    records = []
    for line in path.read_bytes().splitlines():
        record = decode(line)
        assert isinstance(record, Comment | ViewerCount | SetCurrent)
        records.append(record)
    return records


def test_the_demo_session_is_bundled_small_and_readable() -> None:
    path = resources.files("chotdon") / "data" / "demo_session.jsonl"
    assert len(path.read_bytes()) < 600_000
    records = demo()
    assert 1800 <= len(comments(records)) <= 2200
    stamps = [r.ts for r in records]
    assert stamps == sorted(stamps)
    assert 200 <= stamps[-1] - stamps[0] <= 260
    switches = [r.code for r in records if isinstance(r, SetCurrent)]
    assert switches == ["A1", "A2", "A3", "A4", "A5", "A1"]


def test_the_demo_session_has_orders_follow_ups_and_cases_for_review() -> None:
    found = parsed(demo())
    kinds = Counter(i.intent for _, i in found)
    # a commune stream: most comments chat and ask, so the stock lasts the session
    assert 0.06 <= kinds["order"] / len(found) <= 0.12
    assert min(kinds["change"], kinds["cancel"], kinds["contact"]) >= 10
    unresolved = [c.text for c, i in found if i.intent == "order" and not i.items]
    assert 1 <= len(unresolved) <= 40  # ordered with no product named or shown: the host reviews
    per_user: defaultdict[str, int] = defaultdict(int)
    for c, _ in found:
        per_user[c.user_id] += 1
    assert max(per_user.values()) >= 5


def test_a_size_and_colour_is_typed_as_viewers_type_it() -> None:
    shop = load_catalog(Path(__file__).parent / "data" / "variants" / "thoi-trang.json")
    records = simulate([shop], rate=8, duration=120, seed=3, start_ts=T0)
    texts = [c.text for c in comments(list(records))]
    assert not any(" / " in t for t in texts)
    assert any(re.search(r"\b(M|L|XL) (trắng|đen)\b", t) for t in texts)
