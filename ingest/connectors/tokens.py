"""Access tokens that outlive a live: refreshed before they expire, the new ones kept on disk.

A platform's token expires mid-live (YouTube OAuth access tokens after about an hour, Shopee's
after 4 hours), so a connector given refresh credentials holds a `RefreshingToken`: `get()`
returns a token valid for at least `margin` more seconds, renewing it first when needed, and
`renew()` renews it now (after the platform refused it); `seconds_left()` and `renewal_failed`
are what the connector's metrics show of it. The platform's own refresh call is a
`Refresh` function; this module only keeps time and storage.

Refreshed credentials are written to a `TokenStore`: a JSON file created with mode 0600 and
replaced atomically, because some platforms rotate the refresh token on every refresh (Shopee:
the old one stops working), so a restart must start from the newest. Stored credentials win over
the ones in the environment when they are newer (the environment's refresh token may be spent).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from .base import AuthError

REFRESH_MARGIN = 300.0  # seconds before expiry a token is renewed


@dataclass(frozen=True, slots=True)
class Grant:
    """What a refresh call returns: the new access token, its lifetime, maybe a new refresh
    token (None: the old one stays valid)."""

    access_token: str
    expires_in: float
    refresh_token: str | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    access_token: str
    refresh_token: str
    expires_at: float  # unix seconds; 0: unknown
    source_refresh_token: str  # the environment's refresh token these descend from


Refresh = Callable[[aiohttp.ClientSession, str], Awaitable[Grant]]


class TokenStore:
    """Credentials in a file only its owner can read, replaced atomically."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None

    def load(self) -> Credentials | None:
        if self.path is None or not self.path.exists():
            return None
        try:
            return Credentials(**json.loads(self.path.read_text(encoding="utf-8")))
        except (ValueError, TypeError):
            return None  # unreadable: start again from the environment

    def save(self, credentials: Credentials) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")  # mode 0600
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(credentials), f)
        os.replace(tmp, self.path)


class RefreshingToken:
    """An access token renewed with a refresh token before it expires; see the module doc."""

    def __init__(
        self,
        access_token: str | None,
        refresh_token: str,
        refresh: Refresh,
        *,
        store: TokenStore | None = None,
        clock: Callable[[], float] = time.time,
        margin: float = REFRESH_MARGIN,
    ) -> None:
        self.refresh = refresh
        self.store = store or TokenStore(None)
        self.clock = clock
        self.margin = margin
        self.refreshes = 0
        self.renewal_failed = False  # the last renewal raised (refused, network, 5xx)
        saved = self.store.load()
        if saved is not None and saved.source_refresh_token == refresh_token:
            self.credentials = saved
        else:  # a new refresh token in the environment replaces what was stored
            self.credentials = Credentials(access_token or "", refresh_token, 0.0, refresh_token)

    @property
    def access_token(self) -> str:
        return self.credentials.access_token

    def seconds_left(self) -> float:
        """Seconds until the current access token expires (negative: expired); NaN while its
        lifetime is unknown (a token from the environment not renewed yet)."""
        expires_at = self.credentials.expires_at
        return expires_at - self.clock() if expires_at else math.nan

    async def get(self, http: aiohttp.ClientSession) -> str:
        c = self.credentials
        # A token of unknown age (expires_at 0) is renewed once, to learn its lifetime.
        if not c.access_token or self.clock() >= c.expires_at - self.margin:
            await self.renew(http)
        return self.credentials.access_token

    async def renew(self, http: aiohttp.ClientSession) -> None:
        """Renew now; AuthError when the refresh token itself is refused."""
        try:
            grant = await self.refresh(http, self.credentials.refresh_token)
            if not grant.access_token:
                raise AuthError("the token refresh answered without an access token")
        except Exception:  # refused, network, 5xx; a cancelled renewal did not fail
            self.renewal_failed = True
            raise
        self.renewal_failed = False
        self.credentials = Credentials(
            grant.access_token,
            grant.refresh_token or self.credentials.refresh_token,
            self.clock() + grant.expires_in,
            self.credentials.source_refresh_token,
        )
        self.refreshes += 1
        self.store.save(self.credentials)
