"""The host's feed under viewer load: does order taking stay live?

    python benchmarks/feed_load.py [--viewers 100] [--seconds 20] [--burst 0]

Runs `chotdon run` (its own process, reading comments from a named pipe, the feed on
127.0.0.1), then at once: `--viewers` read-only pages holding event streams (from ten loopback
addresses, as many households would), a hit-and-run client opening event streams and snapshots
and dropping them unread as fast as it can, and the host's page with the token. Each half second
a new comment orders (after `--burst` other buyers' comments, to keep the pipeline busy); its
order event must reach the host's page, and a host action (a stock change) must be answered.
Prints the latency figures; everything stays on 127.0.0.1 and ends within `--seconds` + 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import aiohttp

from chotdon.records import Comment, encode

STREAM = "kim-an-oi"
ROOT = Path(__file__).resolve().parent.parent
ADDRESSES = [f"127.0.0.{n}" for n in range(2, 12)]  # viewers' loopback addresses
LIVE_S = 1.0  # an order event must reach the host's page within this


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Figures:
    def __init__(self) -> None:
        self.viewers_open = 0
        self.viewers_refused = 0
        self.hit_and_run = 0
        self.order_latency: list[float] = []
        self.action_latency: list[float] = []
        self.action_errors = 0
        self.orders_missed = 0


async def viewer(url: str, address: str, figures: Figures, stop: asyncio.Event) -> None:
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        try:
            async with http.get(url) as response:
                if response.status != 200:
                    figures.viewers_refused += 1
                    return
                figures.viewers_open += 1
                while not stop.is_set():  # read like a page: slowly, but read
                    chunk = await response.content.readany()
                    if not chunk:
                        return
                    await asyncio.sleep(0.05)
        except aiohttp.ClientError:
            figures.viewers_refused += 1


async def hit_and_run(base: str, figures: Figures, stop: asyncio.Event) -> None:
    """Opens event streams, snapshots and CSVs and drops them unread."""
    paths = [f"/api/streams/{STREAM}/events", f"/api/streams/{STREAM}/snapshot"]
    paths.append(f"/api/streams/{STREAM}/orders.csv")
    n = 0
    while not stop.is_set():
        address = f"127.0.1.{n % 200 + 1}"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(base.split(":")[0], int(base.split(":")[1]),
                                        local_addr=(address, 0)), 2)  # fmt: skip
            path = paths[n % len(paths)]
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            await writer.drain()
            writer.transport.abort()  # gone without reading a byte
            del reader
        except (OSError, TimeoutError):
            pass
        n += 1
        figures.hit_and_run += 1
        await asyncio.sleep(0.005)


async def host(
    base: str, token: str, fifo: IO[str], figures: Figures, seconds: float, burst: int
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    events = f"http://{base}/api/streams/{STREAM}/events"
    async with aiohttp.ClientSession() as http, http.get(events, headers=headers) as page:
        assert page.status == 200, await page.text()
        seen: dict[str, float] = {}
        buffer = b""

        async def read() -> None:
            nonlocal buffer
            while True:
                chunk = await page.content.readany()
                if not chunk:
                    return
                buffer += chunk
                while b"\n\n" in buffer:
                    event, buffer = buffer.split(b"\n\n", 1)
                    if event.startswith(b"event: order"):
                        for name in list(sent):
                            if name.encode() in event and name not in seen:
                                seen[name] = time.monotonic()

        sent: dict[str, float] = {}
        reading = asyncio.create_task(read())
        started = time.monotonic()
        i = 0
        while time.monotonic() - started < seconds:
            i += 1
            name = f"Khách {i:04d}"
            text, cid = "chốt 1 chai nước ép", f"load-{i}"
            comment = Comment(
                stream=STREAM,
                comment_id=cid,
                user_id=f"u{i}",
                user_name=name,
                text=text,
                ts=time.time(),
            )
            crowd = [  # other buyers commenting at the same time: the pipeline is busy
                Comment(stream=STREAM, comment_id=f"busy-{i}-{n}", user_id=f"b{n % 997}",
                        text="chốt 1 hộp ổi", ts=time.time()) for n in range(burst)
            ]  # fmt: skip
            fifo.write("".join(encode(c).decode() + "\n" for c in crowd))
            sent[name] = time.monotonic()
            fifo.write(encode(comment).decode() + "\n")
            fifo.flush()
            t0 = time.monotonic()
            try:
                async with http.post(
                    f"http://{base}/api/streams/{STREAM}/stock",
                    json={"sku": "NUOC-OI", "delta": 1},
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=5),
                ) as response:
                    if response.status != 200:
                        figures.action_errors += 1
            except (aiohttp.ClientError, TimeoutError):
                figures.action_errors += 1
            figures.action_latency.append(time.monotonic() - t0)
            await asyncio.sleep(0.5)
        await asyncio.sleep(LIVE_S)
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        for name, at in sent.items():
            if name in seen:
                figures.order_latency.append(seen[name] - at)
            else:
                figures.orders_missed += 1


async def main(viewers: int, seconds: float, burst: int) -> Figures:
    figures = Figures()
    token = secrets.token_urlsafe(12)
    port = free_port()
    base = f"127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        fifo_path = Path(tmp) / "comments"
        os.mkfifo(fifo_path)
        run = subprocess.Popen(
            [sys.executable, "-m", "chotdon", "run", "--catalog", "kim-an", "--source",
             str(fifo_path), "--db", str(Path(tmp) / "s.db"), "--port", str(port),
             "--token", token],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        fifo = await asyncio.to_thread(open, fifo_path, "w", encoding="utf-8")
        try:
            deadline = time.monotonic() + 20
            while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
                assert time.monotonic() < deadline, "chotdon run did not start"
                await asyncio.sleep(0.1)
            stop = asyncio.Event()
            url = f"http://{base}/api/streams/{STREAM}/events"
            crowd = [
                asyncio.create_task(viewer(url, ADDRESSES[i % len(ADDRESSES)], figures, stop))
                for i in range(viewers)
            ]
            await asyncio.sleep(1)  # the crowd is in
            vandal = asyncio.create_task(hit_and_run(base, figures, stop))
            await asyncio.wait_for(host(base, token, fifo, figures, seconds, burst), seconds + 10)
            stop.set()
            for task in [*crowd, vandal]:
                task.cancel()
            await asyncio.gather(*crowd, vandal, return_exceptions=True)
        finally:
            fifo.close()
            run.terminate()
            run.wait(10)
    return figures


def report(figures: Figures, viewers: int, seconds: float) -> None:
    def ms(values: list[float], q: float) -> str:
        if not values:
            return "-"
        ordered = sorted(values)
        return f"{1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.0f} ms"

    orders = figures.order_latency
    print(f"feed load: {viewers} viewers asked, {figures.viewers_open} open, "
          f"{figures.viewers_refused} refused; {figures.hit_and_run} hit-and-run requests "
          f"in {seconds:.0f} s")  # fmt: skip
    print(
        f"order event to the host's page: p50 {ms(orders, 0.5)}, p95 {ms(orders, 0.95)}, "
        f"max {ms(orders, 1.0)} over {len(orders)} orders; {figures.orders_missed} missed"
    )
    actions = figures.action_latency
    print(f"host actions: p50 {ms(actions, 0.5)}, max {ms(actions, 1.0)}, "
          f"{figures.action_errors} failed of {len(actions)}")  # fmt: skip
    late = sum(1 for t in orders if t > LIVE_S)
    mean = statistics.fmean(orders) if orders else 0.0
    print(f"within {LIVE_S:.0f} s: {len(orders) - late} of {len(orders) + figures.orders_missed} "
          f"(mean {1000 * mean:.0f} ms)")  # fmt: skip


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--viewers", type=int, default=100)
    p.add_argument("--seconds", type=float, default=20.0, help="of load (at most 20)")
    p.add_argument(
        "--burst",
        type=int,
        default=0,
        help="other comments before each measured one (at most 2000)",
    )
    args = p.parse_args()
    seconds, burst = min(args.seconds, 20.0), max(0, min(args.burst, 2000))
    report(asyncio.run(main(min(args.viewers, 200), seconds, burst)), args.viewers, seconds)
