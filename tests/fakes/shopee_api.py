"""A local Shopee Open Platform v2 speaking the livestream module's wire format
(`get_latest_comment_list`, `get_session_detail`, `get_session_metric`) and the token refresh
(`auth/access_token/get`), checking every request's signature as Shopee does, with failures a
test can script.

As the v2.livestream.get_latest_comment_list document says, only the comments of the last 10
seconds (`window`, by the fake's `clock`) are listed; `offset` is a start inside that window and
`next_offset` the start of the next page - the same offset names other comments once the window
has moved on. Session status: 0 initial, 1 ongoing, 2 ended (get_session_detail).

Livestream calls are "User" APIs: common parameters partner_id, timestamp, access_token, user_id
and sign = HMAC-SHA256(partner_key, partner_id + path + timestamp + access_token + user_id). The
refresh is a public API (sign over partner_id + path + timestamp): it answers a new access token
(valid `token_lifetime` seconds, 4 hours at Shopee) and a new refresh token, and the used refresh
token stops working. An expired access token gets error_auth "Invalid access_token.".
POST post_comment (v2.livestream.post_comment, JSON session_id and content) posts the
streamer's comment; `posted` keeps the texts.

GET get_show_item (v2.livestream.get_show_item, session_id): the product pinned on screen,
`{"item": {item_id, shop_id, name, image_url, price_info: {currency, current_price,
original_price}}}`, or `{"item": null}` when nothing is pinned (`show_item`, a test sets it). The
shape is the one congminh1254/shopee-sdk types for this call (src/schemas/livestream.ts,
GetShowItemResponse/ShowItem); Shopee's own page for it could not be read here.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

PARTNER_ID = 2001234
PARTNER_KEY = "shpk-test-partner-key"
ACCESS_TOKEN = "test-access-token"
USER_ID = 778899
REFRESH_TOKEN = "test-refresh-token-0"
PREFIX = "/api/v2/livestream/"
AUTH_PATH = "/api/v2/auth/access_token/get"

# One scripted failure per comment-list request, in order ("ok" for none).
FAILURES = (
    "500",  # HTTP 500 error_server
    "drop",  # connection closed mid-body
    "rate",  # error_rate_limit (the platform's per-app limit)
    "busy",  # error_server "Too many requests, please try again later"
    "expired",  # error_auth "Invalid access_token." (tokens last 4 hours)
    "quota",  # error_limit: the app's daily call limit
    "garbage",  # 200 with a body that is not JSON
    "overlap",  # the page starts two comments early: they arrive twice
)


def sign(path: str, timestamp: int, token: str = ACCESS_TOKEN, user_id: int = USER_ID) -> str:
    base = f"{PARTNER_ID}{path}{timestamp}{token}{user_id}"
    return hmac.new(PARTNER_KEY.encode(), base.encode(), hashlib.sha256).hexdigest()


def comment(
    n: int, text: str, ts: int, user_id: int = 500, username: str = "khach"
) -> dict[str, Any]:
    return {
        "comment_id": 273_887_000 + n,
        "content": text,
        "timestamp": ts,
        "user_id": user_id,
        "username": username,
    }


@dataclass
class FakeShopee:
    session_id: int = 6236215
    page_size: int = 3
    comments: list[dict[str, Any]] = field(default_factory=list)
    status: int = 1  # 0 initial, 1 ongoing, 2 ended
    ccu: int = 57
    failures: deque[str] = field(default_factory=deque)
    requests: list[dict[str, str]] = field(default_factory=list)  # comment-list queries
    calls: list[str] = field(default_factory=list)  # every API called, in order
    window: float = 10.0  # seconds of comments listed
    clock: Callable[[], float] = time.time
    token_lifetime: float = 4 * 3600.0
    access_tokens: dict[str, float] = field(default_factory=lambda: {ACCESS_TOKEN: math.inf})
    refresh_tokens: set[str] = field(default_factory=lambda: {REFRESH_TOKEN})
    refreshes: int = 0
    refresh_failures: deque[str] = field(default_factory=deque)  # scripted token refresh failures
    posted: list[str] = field(default_factory=list)
    show_item: int | None = None  # the item id pinned on screen
    show_failures: deque[str] = field(default_factory=deque)  # scripted get_show_item failures
    server: TestServer | None = None
    url: str = ""
    _issued: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def post(self, n: int, text: str, user_id: int = 500, username: str = "khach") -> None:
        """A viewer comments now."""
        self.comments.append(comment(n, text, int(self.clock()), user_id, username))

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post(AUTH_PATH, self.refresh)
        app.router.add_get(PREFIX + "{api}", self.handle)
        app.router.add_post(PREFIX + "{api}", self.handle)
        self.server = TestServer(app, host="127.0.0.1", port=0)
        await self.server.start_server()
        self.url = str(self.server.make_url("")).rstrip("/")
        return self.url

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        api = request.match_info["api"]
        self.calls.append(api)
        query = request.query
        if (refused := self._check_common(request.path, query)) is not None:
            return refused
        if request.method == "POST":
            return await self._post(api, request)
        if query.get("session_id") != str(self.session_id):
            return error(
                "error_data", f"The session(session_id:{query.get('session_id')}) is not exist"
            )
        if api == "get_latest_comment_list":
            self.requests.append(dict(query))
            return await self.comment_list(request)
        if api == "get_session_detail":
            return ok(
                {
                    "session_id": self.session_id,
                    "title": "Xả kho cuối tuần",
                    "status": self.status,
                    "is_test": False,
                    "start_time": 1_714_560_000,
                    "end_time": 1_714_563_600 if self.status == 2 else 0,
                }
            )
        if api == "get_show_item":
            if self.show_failures:
                return await self._fail(request, self.show_failures.popleft())
            if self.show_item is None:
                return ok({"item": None})
            price = {"currency": "VND", "current_price": 80000.0, "original_price": 95000.0}
            item = {
                "item_id": self.show_item,
                "shop_id": 381_234_567,
                "name": "Ổi Kim An hộp 2kg",
                "image_url": "https://cf.shopee.vn/file/vn-11134207-7r98o-demo",
                "price_info": price,
            }
            return ok({"item": item})
        if api == "get_session_metric":
            return ok({"ccu": self.ccu, "peak_ccu": self.ccu, "views": 3 * self.ccu, "likes": 9})
        return error(
            "error_param",
            "Permission denied. This API is currently offline or the request path is incorrect.",
        )

    def _check_common(self, path: str, query: Any) -> web.Response | None:
        if query.get("partner_id") != str(PARTNER_ID):
            return error("error_auth", "partner_id is invalid", 403)
        try:
            timestamp = int(query.get("timestamp", ""))
        except ValueError:
            return error("error_param", "no timestamp")
        if abs(time.time() - timestamp) > 300:
            return error("error_param", "Timestamp is expired.")
        if "user_id" not in query:
            return error("error_param", "There is no user_id in query.")
        token = query.get("access_token", "")
        expected = sign(path, timestamp, token, int(query["user_id"]))
        if not hmac.compare_digest(query.get("sign", ""), expected):
            return error("error_sign", "Wrong sign.", 403)
        if token not in self.access_tokens:
            return error("invalid_acceess_token", "Invalid access_token, please have a check.", 403)
        if self.access_tokens[token] < time.monotonic():
            return error("error_auth", "Invalid access_token.", 403)
        if query["user_id"] != str(USER_ID):
            return error("user_no_linked", "Partner and user has no linked.", 403)
        return None

    async def _post(self, api: str, request: web.Request) -> web.Response:
        if api != "post_comment":
            return error("error_param", "Wrong method for this API.")
        body = await request.json()
        if body.get("session_id") != self.session_id:
            return error(
                "error_data", f"The session(session_id:{body.get('session_id')}) is not exist"
            )
        content = body.get("content")
        if not isinstance(content, str) or not content:
            return error("error_param", "content is required")
        self.posted.append(content)
        return ok({})

    async def comment_list(self, request: web.Request) -> web.StreamResponse:
        failure = self.failures.popleft() if self.failures else None
        if failure not in (None, "ok", "overlap"):
            return await self._fail(request, str(failure))
        now = self.clock()
        visible = [c for c in self.comments if now - self.window < c["timestamp"] <= now]
        offset = int(request.query.get("offset", "0"))
        if failure == "overlap":
            offset = max(0, offset - 2)
        page = visible[offset : offset + self.page_size]
        return ok({"next_offset": offset + len(page), "list": page})

    async def refresh(self, request: web.Request) -> web.StreamResponse:
        if self.refresh_failures:
            return await self._fail(request, self.refresh_failures.popleft())
        query = request.query
        timestamp = int(query.get("timestamp", "0"))
        base = f"{query.get('partner_id')}{AUTH_PATH}{timestamp}"
        expected = hmac.new(PARTNER_KEY.encode(), base.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(query.get("sign", ""), expected):
            return error("error_sign", "Wrong sign.", 403)
        body = await request.json()
        if body.get("partner_id") != PARTNER_ID or body.get("user_id") != USER_ID:
            return error("error_param", "partner_id or user_id is wrong")
        used = body.get("refresh_token")
        if used not in self.refresh_tokens:
            return error("error_auth", "Invalid refresh_token.", 403)
        self.refresh_tokens.discard(used)  # a refresh token is good for one refresh
        n = next(self._issued)
        access, fresh = f"access-{n}", f"test-refresh-token-{n}"
        self.refresh_tokens.add(fresh)
        self.access_tokens[access] = time.monotonic() + self.token_lifetime
        self.refreshes += 1
        return web.json_response(
            {
                "refresh_token": fresh,
                "access_token": access,
                "expire_in": self.token_lifetime,
                "request_id": "c5ba6e5bd2bb87bd",
                "error": "",
                "message": "",
                "partner_id": PARTNER_ID,
                "user_id": USER_ID,
            }
        )

    async def _fail(self, request: web.Request, kind: str) -> web.StreamResponse:
        if kind == "500":
            return error("error_server", "Server internal error: upstream timeout", 500)
        if kind == "rate":
            return error(
                "error_rate_limit",
                "Too many requests. You have reached the rate limit. Please try again later.",
                429,
            )
        if kind == "busy":
            return error("error_server", "Too many requests, please try again later", 500)
        if kind == "expired":
            return error("error_auth", "Invalid access_token.", 403)
        if kind == "quota":
            return error(
                "error_limit",
                "The total API call number made by your APP has reached the daily API call "
                "limit, please try again after 00: 00 (UTC+08:00)",
                403,
            )
        if kind == "offline":  # the app was not granted this API
            return error(
                "error_param",
                "Permission denied. This API is currently offline or the request path is "
                "incorrect.",
            )
        if kind == "garbage":
            return web.Response(text="<html>504 Gateway Time-out</html>", content_type="text/html")
        assert kind == "drop", kind
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 4096
        await response.prepare(request)
        await response.write(b'{"error": "", "message": "", "respo')
        assert request.transport is not None
        request.transport.close()
        return response


def ok(response: dict[str, Any]) -> web.Response:
    return web.json_response(
        {"error": "", "message": "", "request_id": "ae9e59cf358b59d7", "response": response}
    )


def error(code: str, message: str, status: int = 200) -> web.Response:
    return web.json_response(
        {"error": code, "message": message, "request_id": "2b02779a357abd74", "response": {}},
        status=status,
    )
