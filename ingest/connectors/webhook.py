"""Records pushed to us over HTTP: the generic authenticated webhook, and the base of every push
connector (the Facebook Page feed webhook, a local bridge...).

`chotdon ingest webhook --listen 127.0.0.1:8090` accepts, from any tool, POST /ingest/{source}
with a JSON body: one record or a list of them,

    {"stream": "kim-an-oi", "comment_id": "c1", "user_id": "u1", "user_name": "Lan",
     "text": "chốt 2 hộp", "ts": 1764230400.5}          # a comment (ts optional: now)
    {"stream": "kim-an-oi", "comment_id": "c1", "user_id": "u1", "text": "", "deleted": true}
    {"stream": "kim-an-oi", "viewers": 812, "ts": 1764230400}   # a viewer count

signed with the source's secret: header `X-Chotdon-Signature: sha256=<hex HMAC-SHA256 of the raw
body>`. Secrets come from the environment only: CHOTDON_WEBHOOK_SECRETS="shopA=s1,toolB=s2".
Records take the source as their platform, so comment ids become "<source>:<comment_id>" and a
source's retries dedupe. Answers: 202 {"accepted", "duplicates", "rejected": []} once the records
are emitted; 400 with each malformed item's index and reason (the valid items of the batch are
still accepted); 401 for an unknown source or a bad signature (counted, nothing emitted); 413 for
a body over --max-bytes; 503 while shutting down (the client retries).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from chotdon.config import parse_listen
from chotdon.records import Comment, ViewerCount

from .base import ConnectorRecord, SessionEnded
from .runner import Accepted, Batch, Malformed, Platform, UsageError

SIGNATURE_HEADER = "X-Chotdon-Signature"
SECRETS_ENV = "CHOTDON_WEBHOOK_SECRETS"
DEFAULT_MAX_BYTES = 1 << 20
MAX_ITEMS = 5_000  # per request: a bigger batch is split by the client, not buffered here


class PushConnector:
    """An HTTP server whose handlers hand records to the run loop and answer once they are
    emitted (so a client that got 2xx knows its records went on). Subclasses add routes."""

    platform = "push"

    def __init__(
        self, stream: str, host: str, port: int, *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.stream = stream
        self.host = host
        self.port = port
        self.max_bytes = max_bytes
        self.started = asyncio.Event()  # set once listening; `port` is then the real one
        self._queue: asyncio.Queue[Batch] = asyncio.Queue()
        self._closing = False
        self._ended: str | None = None

    def restore(self, state: Mapping[str, Any]) -> None:
        """Nothing to resume: a pusher retries what was not acknowledged."""

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def submit(
        self,
        records: Sequence[ConnectorRecord],
        malformed: Sequence[Malformed] = (),
        state: Mapping[str, Any] | None = None,
    ) -> Accepted:
        """Hand records to the run loop; returns once they are emitted. Raises ShuttingDown."""
        if self._closing:
            raise ShuttingDown
        ack: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(Batch(records, state=state, malformed=malformed, ack=ack))
        return await ack

    def end(self, reason: str) -> None:
        """The session is over (the live ended): the run loop stops once what came is out."""
        self._ended = reason
        self._queue.put_nowait(Batch())

    def note_error(self, kind: str, message: str) -> None:
        """A rejected request (bad signature...): counted and logged by the run loop."""
        if not self._closing:
            self._queue.put_nowait(Batch(errors=[(kind, message)]))

    async def batches(self) -> AsyncIterator[Batch]:
        app = web.Application(client_max_size=self.max_bytes)
        self.routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self.port = runner.addresses[0][1]
        self._closing = False
        self.started.set()
        try:
            while True:
                yield await self._queue.get()
                if self._ended is not None:
                    raise SessionEnded(self._ended)
        finally:
            self._closing = True
            self.started.clear()
            while not self._queue.empty():
                ack = self._queue.get_nowait().ack
                if ack is not None and not ack.done():
                    ack.set_exception(ShuttingDown())
            await runner.cleanup()


class ShuttingDown(Exception):
    """The connector stops: the pusher should retry later (503)."""


def signature(secret: str, body: bytes) -> str:
    """The signature header's value for this body: "sha256=<hex>"."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(signature(secret, body), header or "")


def parse_secrets(text: str) -> dict[str, str]:
    """'shopA=s1,toolB=s2' -> {"shopA": "s1", "toolB": "s2"}."""
    secrets: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        source, sep, secret = part.partition("=")
        source, secret = source.strip(), secret.strip()
        if not sep or not source or not secret:
            raise UsageError(f"{SECRETS_ENV}: expected source=secret, got {part.strip()!r}")
        secrets[source] = secret
    return secrets


def _text_field(item: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = item.get(name)
    if value is None:
        if required:
            raise ValueError(f"'{name}' is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"'{name}' must be a string")
    text = str(value)
    if required and not text:
        raise ValueError(f"'{name}' is missing")
    return text


def parse_item(item: Any, source: str, now: float) -> ConnectorRecord:
    """One pushed record, or ValueError saying what is wrong with it."""
    if not isinstance(item, dict):
        raise ValueError("expected a JSON object")
    stream = _text_field(item, "stream")
    ts = item.get("ts", now)
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise ValueError("'ts' must be unix seconds")
    if "viewers" in item:
        viewers = item["viewers"]
        if isinstance(viewers, bool) or not isinstance(viewers, int) or viewers < 0:
            raise ValueError("'viewers' must be a non-negative integer")
        return ViewerCount(stream=stream, viewers=viewers, ts=float(ts), platform=source)
    deleted = item.get("deleted", False)
    if not isinstance(deleted, bool):
        raise ValueError("'deleted' must be true or false")
    text = item.get("text", "" if deleted else None)
    if not isinstance(text, str):
        raise ValueError("'text' must be a string")
    return Comment(
        stream=stream,
        comment_id=_text_field(item, "comment_id"),
        user_id=_text_field(item, "user_id"),
        user_name=_text_field(item, "user_name", required=False),
        text=text,
        ts=float(ts),
        platform=source,
        deleted=deleted,
    )


class WebhookConnector(PushConnector):
    platform = "webhook"

    def __init__(
        self,
        secrets: Mapping[str, str],
        host: str,
        port: int,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__("all", host, port, max_bytes=max_bytes)
        self.secrets = dict(secrets)
        self.clock = clock

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/ingest/{source}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        source = request.match_info["source"]
        body = await request.read()  # over client_max_size: aiohttp answers 413
        secret = self.secrets.get(source)
        if secret is None or not signature_ok(secret, body, request.headers.get(SIGNATURE_HEADER)):
            # The same answer for an unknown source: do not tell which sources exist.
            self.note_error("signature", f"rejected a request for source {source!r}: bad signature")
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            reason = f"invalid JSON: {exc}"
            try:
                await self.submit([], [Malformed(reason, body.decode("utf-8", "replace"))])
            except ShuttingDown:
                return _retry_later()
            return web.json_response({"error": reason}, status=400)
        items = payload if isinstance(payload, list) else [payload]
        if len(items) > MAX_ITEMS:
            return web.json_response({"error": f"more than {MAX_ITEMS} items"}, status=413)
        records: list[ConnectorRecord] = []
        malformed: list[Malformed] = []
        rejected: list[dict[str, Any]] = []
        now = self.clock()
        for index, item in enumerate(items):
            try:
                records.append(parse_item(item, source, now))
            except ValueError as exc:
                raw = json.dumps(item, ensure_ascii=False)
                malformed.append(Malformed(f"{source} item {index}: {exc}", raw))
                rejected.append({"index": index, "error": str(exc)})
        try:
            accepted = await self.submit(records, malformed)
        except ShuttingDown:
            return _retry_later()
        answer = {
            "accepted": accepted.emitted,
            "duplicates": accepted.duplicates,
            "rejected": rejected,
        }
        return web.json_response(answer, status=400 if rejected else 202)


def _retry_later() -> web.Response:
    return web.json_response({"error": "shutting down, retry"}, status=503)


def add_listen_arguments(p: argparse.ArgumentParser, port: int, what: str) -> None:
    """`--listen` and `--max-bytes` of a connector that others push to."""
    p.add_argument(
        "--listen",
        type=parse_listen,
        default=("127.0.0.1", port),
        metavar="HOST:PORT",
        help=f"address {what} (default 127.0.0.1:{port}; keep it local)",
    )
    p.add_argument(
        "--max-bytes",
        type=int,
        default=DEFAULT_MAX_BYTES,
        help="largest request body or frame accepted (default %(default)s)",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_listen_arguments(p, 8090, "to accept pushes on")


def build(args: argparse.Namespace, environ: Mapping[str, str]) -> WebhookConnector:
    secrets = parse_secrets(environ.get(SECRETS_ENV, ""))
    if not secrets:
        raise UsageError(f"set {SECRETS_ENV}=source=secret[,source=secret...]")
    host, port = args.listen
    return WebhookConnector(secrets, host, port, max_bytes=args.max_bytes)


PLATFORM_SPEC = Platform(
    name="webhook",
    help="accept comments and viewer counts pushed by any tool (HMAC-signed JSON)",
    description=__doc__ or "",
    add_arguments=add_arguments,
    build=build,
    needs_stream=False,
)
