"""The host's live feed over HTTP: the page, its JSON API, server-sent events, the CSV export
and /metrics, and the operations page (/ops: every stream's health). The imperative shell around
`FeedHub`: it reads the clock to stamp host actions and age the streams' last comments.

Anyone who can reach the port sees the feed read-only with phones masked; the host token (printed
at start) unlocks actions and full phone numbers, sent as `Authorization: Bearer <token>` or, where
a browser cannot set headers (EventSource, a download link), as `?token=`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import math
import resource
import secrets
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from chotdon.catalog import COUNT_UNITS
from chotdon.phones import mask_phones_in
from chotdon.records import MAX_QTY, AdjustStock, Approve, HostAction, Reject, SetCurrent

from .csv_export import orders_csv
from .hub import FeedHub, Subscription
from .view import ProductRow, StreamView, Update

STATIC = Path(__file__).parent / "static"
PING_S = 15.0  # an SSE comment this often keeps proxies from closing an idle stream
RETRY_MS = 2000  # how soon EventSource reconnects after losing the stream
MAX_PAGES = 200  # open event streams: beyond this a page is refused rather than slow everyone
HOST_PAGES = 20  # of them kept for the host's pages: viewers cannot lock the host out
PAGES_PER_ADDRESS = 10  # a viewer address's event streams at most (a household, a shop's NAT)
GONE_CHECK_S = 1.0  # how soon a page that went away gives its slot back
MAX_CONNECTIONS = 512  # open connections at most (half of a low file limit, whichever is less)
HEADERS_S = 10.0  # a connection that has not sent a whole request by then is closed

HUB = web.AppKey("hub", FeedHub)
TOKEN = web.AppKey("token", str)
REGISTRY = web.AppKey("registry", CollectorRegistry)
PAGES = web.AppKey("pages", set[Subscription])
ADDRESSES = web.AppKey("addresses", Counter[str])  # viewers' open event streams by address
HOSTS = web.AppKey("hosts", frozenset[str])
# what was built for a view, by (stream, what, masked): (the view's version, the bytes)
BUILT = web.AppKey("built", dict[tuple[str, str, bool], tuple[int, bytes]])

PAGE_HEADERS = {
    # everything is served from here (no CDN), and the URL may hold the token: never leak it
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Invalid(Exception):
    """A request the API refuses, with the reason in Vietnamese (for the page) and English."""

    def __init__(self, status: int, code: str, vi: str, en: str) -> None:
        super().__init__(en)
        self.status, self.code, self.vi, self.en = status, code, vi, en


def create_app(
    hub: FeedHub, token: str, registry: CollectorRegistry, hosts: Iterable[str] = ()
) -> web.Application:
    """The feed's web app. An empty `token` signs nobody in: the feed is read-only for all.
    Requests must name the server by an IP address, localhost or one of `hosts` (the names it
    is served under): a page of another site resolving its name here cannot read the feed."""
    app = web.Application(middlewares=[_host, _headers, _errors])  # errors get the headers too
    app[HUB], app[TOKEN], app[REGISTRY] = hub, token, registry
    app[PAGES] = set()
    app[ADDRESSES] = Counter()
    app[BUILT] = {}
    app[HOSTS] = frozenset(h.lower() for h in hosts) | {"localhost"}
    app.router.add_get("/", _index)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/api/me", _me)
    app.router.add_get("/api/streams", _streams)
    app.router.add_get("/ops", _ops_page)
    app.router.add_get("/api/ops", _ops)
    app.router.add_get("/api/streams/{stream}/snapshot", _snapshot)
    app.router.add_get("/api/streams/{stream}/events", _events)
    app.router.add_get("/api/streams/{stream}/orders.csv", _csv)
    app.router.add_post("/api/streams/{stream}/current", _set_current)
    app.router.add_post("/api/streams/{stream}/reviews/{review_id}/approve", _approve)
    app.router.add_post("/api/streams/{stream}/reviews/{review_id}/reject", _reject)
    app.router.add_post("/api/streams/{stream}/stock", _adjust_stock)
    app.router.add_get("/metrics", _metrics)
    app.on_shutdown.append(_close_pages)
    return app


async def serve(
    hub: FeedHub, token: str, registry: CollectorRegistry, host: str, port: int
) -> web.AppRunner:
    """Serve the feed (`create_app`) on host:port (0: a free port), its connections guarded, and
    print its addresses: the read-only page, the host's (with the token) and /metrics. Returns
    the runner (`cleanup()` stops serving); OSError, serving nothing, when the address is taken
    or not this machine's."""
    runner = web.AppRunner(create_app(hub, token, registry, hosts=[host]))
    await runner.setup()
    guard(runner)
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    base = f"http://{host}:{runner.addresses[0][1]}/"
    print(f"Trang đơn hàng (xem): {base}", flush=True)
    print(f"Trang chủ shop (host): {base}?token={token}", flush=True)
    print(f"Prometheus: {base}metrics", flush=True)
    return runner


def guard(runner: web.AppRunner) -> None:
    """Bound what connections can hold (call after `runner.setup()`): beyond MAX_CONNECTIONS
    (or half the process's file limit) a new one is closed at once, and one that has not sent
    its first request's headers within HEADERS_S is closed (slow-header clients hold nothing)."""
    server = runner.server
    assert server is not None, "guard() needs a runner that is set up"
    limit = min(MAX_CONNECTIONS, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2)
    made = server.connection_made

    def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
        made(handler, transport)
        if len(server.connections) > limit:
            transport.abort()
            return
        asyncio.get_running_loop().call_later(HEADERS_S, _no_request_yet, handler, transport)

    setattr(server, "connection_made", connection_made)  # noqa: B010 (an instance's method)


def _no_request_yet(handler: RequestHandler, transport: asyncio.Transport) -> None:
    if handler._request_count == 0 and not transport.is_closing():
        transport.abort()


# -- plumbing ---------------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A refused request answers what is wrong; anything unforeseen is one log line and a 500,
    never a traceback per request."""
    try:
        return await handler(request)
    except Invalid as exc:
        return _json({"error": exc.code, "vi": exc.vi, "en": exc.en}, exc.status)
    except (web.HTTPException, asyncio.CancelledError, ConnectionError):
        raise
    except Exception as exc:
        where = f"{request.method} {request.path}"[:200]
        print(mask_phones_in(f"feed: {where}: {exc!r}"[:500]), file=sys.stderr, flush=True)
        return _json({"error": "internal", "vi": "Lỗi máy chủ.", "en": "Server error."}, 500)


@web.middleware
async def _host(request: web.Request, handler: Handler) -> web.StreamResponse:
    """DNS rebinding: a name this server does not go by is refused before anything is read."""
    name = _host_name(request.host)
    if name not in request.app[HOSTS] and not _is_ip(name):
        return web.Response(status=421, text="Misdirected Request: unknown Host\n")
    return await handler(request)


def _host_name(host: str) -> str:
    """'Example.com:8080' -> 'example.com'; '[::1]:8080' -> '::1'."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:  # an event stream has sent its headers already
        response.headers.update(PAGE_HEADERS)
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
    return response


def authorised(request: web.Request) -> bool:
    token = request.app[TOKEN]
    if not token:
        return False
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.startswith("Bearer ") else request.query.get("token", "")
    # a header that is not UTF-8 arrives with surrogate escapes: compared as its bytes
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode())


def _require_host(request: web.Request) -> None:
    if not authorised(request):
        raise Invalid(
            401,
            "unauthorized",
            "Cần mã chủ phiên (token) để thao tác.",
            "The host token is required for this action.",
        )


def _view(request: web.Request) -> StreamView:
    stream = request.match_info["stream"]
    view = request.app[HUB].views.get(stream)
    if view is None:
        raise Invalid(
            404,
            "unknown_stream",
            f"Không có phiên live '{stream}'.",
            f"No stream '{stream}'.",
        )
    return view


# -- read-only ---------------------------------------------------------------------------------


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _me(request: web.Request) -> web.Response:
    return _json({"host": authorised(request)})


async def _streams(request: web.Request) -> web.Response:
    views = request.app[HUB].views
    return _json([{"id": stream, "title": view.title} for stream, view in views.items()])


async def _ops_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "ops.html", headers={"Cache-Control": "no-cache"})


async def _ops(request: web.Request) -> web.Response:
    """Every stream's health, for the operations page (no phone, no customer: read-only)."""
    now = time.time()
    return _json([view.health(now) for view in request.app[HUB].views.values()])


def _built(request: web.Request, view: StreamView, what: str, masked: bool) -> bytes:
    """A snapshot or CSV built once per change of the view, however many pages ask for it: a
    crowd of viewers connecting at once costs one build, not one each."""
    built, key = request.app[BUILT], (view.stream, what, masked)
    cached = built.get(key)
    if cached is not None and cached[0] == view.version:
        return cached[1]
    snapshot = what == "snapshot"
    data = msgspec.json.encode(view.snapshot(masked)) if snapshot else orders_csv(view, masked)
    built[key] = (view.version, data)
    return data


async def _snapshot(request: web.Request) -> web.Response:
    view = _view(request)
    data = _built(request, view, "snapshot", not authorised(request))
    return web.Response(body=data, content_type="application/json")


async def _csv(request: web.Request) -> web.Response:
    view = _view(request)
    return web.Response(
        body=_built(request, view, "csv", not authorised(request)),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="don-hang-{_safe(view.stream)}.csv"',
        },
    )


def _safe(name: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in name)


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=generate_latest(request.app[REGISTRY]), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def _event(kind: str, data: Any) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + msgspec.json.encode(data) + b"\n\n"


def _sent(view: StreamView, update: Update, masked: bool) -> bytes:
    """An update as a page gets it: encoded for the first page, reused for the others."""
    data = update.sent.get(masked)
    if data is None:
        data = update.sent[masked] = _event(update.kind, view.update_json(update, masked))
    return data


async def _events(request: web.Request) -> web.StreamResponse:
    """The stream's updates as server-sent events. The first event is a `snapshot` of the whole
    view, taken after subscribing, so a page (re)connecting never misses an update in between;
    after that every update holds a whole state, so only the latest of each is sent."""
    view = _view(request)
    masked = not authorised(request)
    pages, addresses = request.app[PAGES], request.app[ADDRESSES]
    address = "" if not masked else (request.remote or "?")
    if len(pages) >= MAX_PAGES or (
        masked and (len(pages) >= MAX_PAGES - HOST_PAGES or addresses[address] >= PAGES_PER_ADDRESS)
    ):
        raise Invalid(503, "busy", "Quá nhiều trang đang mở.", "Too many pages are open.")
    subscription = request.app[HUB].subscribe(view.stream)
    pages.add(subscription)
    if address:
        addresses[address] += 1
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # a reverse proxy must not hold events back
            **PAGE_HEADERS,
        }
    )
    try:
        await response.prepare(request)
        snapshot = _built(request, view, "snapshot", masked)
        await response.write(
            f"retry: {RETRY_MS}\n\nevent: snapshot\ndata: ".encode() + snapshot + b"\n\n"
        )
        quiet = 0.0
        while True:
            try:
                batch = await asyncio.wait_for(subscription.batch(), GONE_CHECK_S)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    break  # the page went away: its slot is free now, not at the next ping
                quiet += GONE_CHECK_S
                if quiet >= PING_S:
                    await response.write(b": ping\n\n")
                    quiet = 0.0
                continue
            if not batch:  # closed: the server is stopping
                break
            quiet = 0.0
            await response.write(b"".join(_sent(view, u, masked) for _, u in batch))
    except ConnectionError:
        pass  # the page went away
    finally:
        subscription.close()
        pages.discard(subscription)
        if address:
            addresses[address] -= 1
            if not addresses[address]:
                del addresses[address]
    return response


async def _close_pages(app: web.Application) -> None:
    pages: set[Subscription] = app[PAGES]
    for subscription in list(pages):
        subscription.close()


# -- host actions ------------------------------------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
    try:  # msgspec: bounded nesting, no numbers beyond a double's range
        body = msgspec.json.decode(await request.read())
    except (msgspec.DecodeError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise Invalid(
            400, "bad_json", "Dữ liệu gửi lên không hợp lệ.", "The body must be a JSON object."
        )
    return body


def _now(view: StreamView) -> float:
    """Actions are stamped on the stream's clock (a replayed session is in the past)."""
    return view.last_ts or time.time()


def _action_id(body: dict[str, Any]) -> str:
    """The page may name its action so a retry is applied once; else each request is new."""
    given = body.get("action_id")
    if isinstance(given, str) and 0 < len(given) <= 64:
        return given
    return "host-" + secrets.token_hex(8)


def _product(view: StreamView, sku: Any) -> ProductRow:
    product = view.products.get(sku) if isinstance(sku, str) else None
    if product is None:
        raise Invalid(
            400,
            "unknown_sku",
            f"Không có sản phẩm '{sku}' trong phiên này.",
            f"No product '{sku}' in this stream's catalog.",
        )
    return product


def _amount(product: ProductRow, value: Any, field: str, positive: bool) -> int | float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and abs(value) <= MAX_QTY and math.isfinite(value)  # no float() of 400 digits
    if ok and positive:
        ok = value > 0
    if ok and product.unit in COUNT_UNITS:
        ok = value == int(value)  # half a box is not a thing
    if not ok:
        kind = "số dương" if positive else "số"
        whole = " nguyên" if product.unit in COUNT_UNITS else ""
        raise Invalid(
            400,
            f"bad_{field}",
            f"'{field}' phải là {kind}{whole} ({product.unit}).",
            f"'{field}' must be a {'positive ' if positive else ''}"
            f"{'whole ' if whole else ''}number of {product.unit}.",
        )
    return int(value) if value == int(value) else float(value)


async def _act(request: web.Request, action: HostAction) -> web.Response:
    try:
        await request.app[HUB].act(action)
    except ValueError as exc:  # the book refused it (e.g. too little free stock): unchanged
        raise Invalid(
            409, "rejected", f"Không thực hiện được: {exc}", f"Could not apply: {exc}"
        ) from exc
    return _json({"ok": True, "action": msgspec.to_builtins(action)})


async def _set_current(request: web.Request) -> web.Response:
    _require_host(request)
    view = _view(request)
    code = (await _body(request)).get("code")
    if code is not None and code != "":
        match = None
        if isinstance(code, str):
            match = next(
                (p for p in view.products.values() if p.code.upper() == code.strip().upper()),
                None,
            )
        if match is None:
            raise Invalid(
                400,
                "unknown_code",
                f"Không có sản phẩm mã '{code}'.",
                f"No product with code '{code}'.",
            )
        code = match.code
    else:
        code = None
    return await _act(request, SetCurrent(stream=view.stream, code=code, ts=_now(view)))


def _review_id(request: web.Request, view: StreamView) -> str:
    review_id = request.match_info["review_id"]
    if review_id not in view.reviews:
        raise Invalid(
            404,
            "unknown_review",
            "Mục cần duyệt không còn (đã duyệt, bị huỷ hoặc không có).",
            f"No pending review item '{review_id}'.",
        )
    return review_id


async def _approve(request: web.Request) -> web.Response:
    _require_host(request)
    view = _view(request)
    review_id = _review_id(request, view)
    body = await _body(request)
    product = _product(view, body.get("sku"))
    variant = body.get("variant") or None
    if product.variants and variant not in product.variants:
        raise Invalid(
            400,
            "bad_variant",
            f"Chọn phân loại của {product.name}: {', '.join(product.variants)}.",
            f"Choose a variant of {product.sku}: {', '.join(product.variants)}.",
        )
    if not product.variants and variant is not None:
        raise Invalid(
            400,
            "bad_variant",
            f"{product.name} không có phân loại.",
            f"{product.sku} has no variants.",
        )
    qty = _amount(product, body.get("qty"), "qty", positive=True)
    action = Approve(
        stream=view.stream,
        review_id=review_id,
        sku=product.sku,
        qty=qty,
        variant=variant,
        ts=_now(view),
        action_id=_action_id(body),
    )
    return await _act(request, action)


async def _reject(request: web.Request) -> web.Response:
    _require_host(request)
    view = _view(request)
    review_id = _review_id(request, view)
    body = await _body(request) if request.can_read_body else {}
    action = Reject(
        stream=view.stream, review_id=review_id, ts=_now(view), action_id=_action_id(body)
    )
    return await _act(request, action)


async def _adjust_stock(request: web.Request) -> web.Response:
    _require_host(request)
    view = _view(request)
    body = await _body(request)
    product = _product(view, body.get("sku"))
    variant = body.get("variant") or None  # a variant's own stock, else the product's
    owned = [o.variant for o in product.options if o.own_stock]
    if variant is not None and variant not in owned:
        raise Invalid(
            400,
            "bad_variant",
            f"Phân loại '{variant}' của {product.name} không có tồn kho riêng"
            f" ({', '.join(owned) or 'không có phân loại nào có'}).",
            f"Variant '{variant}' of {product.sku} has no stock of its own.",
        )
    delta = _amount(product, body.get("delta"), "delta", positive=False)
    if delta == 0:
        raise Invalid(400, "bad_delta", "Số thay đổi phải khác 0.", "'delta' must not be 0.")
    action = AdjustStock(
        stream=view.stream,
        sku=product.sku,
        variant=variant,
        delta=delta,
        ts=_now(view),
        action_id=_action_id(body),
    )
    return await _act(request, action)
