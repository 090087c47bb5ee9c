"""How the long-running commands stop: SIGTERM (Kubernetes, systemd, `docker stop`) as Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set `stop` (in the running loop): the command finishes what it holds,
    then exits. Off the main thread, where signals cannot be handled, nothing is installed."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
