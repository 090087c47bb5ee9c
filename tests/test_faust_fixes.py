"""`faust_fixes` copies private Faust code: it must notice a Faust that is not the one it read."""

from __future__ import annotations

import pytest

from stream_jobs import faust_fixes
from stream_jobs.faust_fixes import COPIED_FROM, check_faust, source_digest, upstream_changes


def test_the_installed_faust_is_the_one_the_fixes_were_made_for() -> None:
    check_faust()
    assert upstream_changes() == []


def test_another_faust_release_is_refused_at_start_up() -> None:
    with pytest.raises(RuntimeError, match=f"faust-streaming 0.16.0 .* of {COPIED_FROM}"):
        check_faust("0.16.0")


def test_an_upstream_method_that_changed_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def changed_upstream() -> None:
        """Stands for a Faust release whose method reads differently."""

    upstream = dict(faust_fixes.UPSTREAM)
    upstream["Consumer._add_gap"] = (changed_upstream, upstream["Consumer._add_gap"][1])
    monkeypatch.setattr(faust_fixes, "UPSTREAM", upstream)
    assert upstream_changes() == ["Consumer._add_gap"]
    with pytest.raises(RuntimeError, match=r"Consumer\._add_gap"):
        check_faust(COPIED_FROM)
    assert source_digest(changed_upstream) != upstream["Consumer._add_gap"][1]
