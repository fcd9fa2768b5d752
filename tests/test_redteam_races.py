"""Red-team review of issue 23's classes: check-then-act between controllers on one database,
beyond enrollment codes. Zalo's refresh token is single-use and shared by every controller of
the database (partitions): two that refresh at once must both send, not lose a notification
and report a false "authorize the OA again"."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from controller.channels import zalo
from controller.channels.base import Outgoing, SendContext
from controller.feed import StorePerThread
from controller.notify import StoreTokens
from controller.store import AlertRow
from lab.providers import FakeZalo


class _LockPerCall(dict[str, asyncio.Lock]):
    """zalo's lock is per process: two controllers do not share it."""

    def setdefault(self, key: str, default: Any = None) -> asyncio.Lock:
        return asyncio.Lock()


@pytest.fixture
def zl() -> Iterator[FakeZalo]:
    fake = FakeZalo("app-1", "s3cret", "RT0", followers={"u-lan"})
    yield fake
    fake.stop()


def message(alert_id: int) -> Outgoing:
    row = AlertRow(id=alert_id, center="ba-dinh", agent="pi-1", device="prn2",
                   code="printer.jammed", subject="", severity="critical", state="firing",
                   device_name="Máy in quầy 2", params={}, opened_at=1.7e9, acked_at=None,
                   acked_by=None, ack_note=None, resolved_at=None, resolved_by=None,
                   resolve_note=None, labels={})
    return Outgoing(kind="alerts", center="ba-dinh", changes=[("opened", row)])


def test_two_controllers_refreshing_zalo_at_once_both_send(zl: FakeZalo, target: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zalo, "_locks", _LockPerCall())
    zl.refresh_gate = threading.Barrier(2)  # both refreshes in flight together
    settings = zalo.Settings(app_id="app-1", app_secret="s3cret", refresh_token="RT0",
                             users=("u-lan",), api_url=zl.url, oauth_url=zl.url)
    controllers = [StoreTokens(StorePerThread(target)) for _ in range(2)]

    async def one(tokens: StoreTokens, alert_id: int) -> None:
        async with httpx.AsyncClient(timeout=15.0) as http:
            await zalo.send(settings, message(alert_id), SendContext(http, tokens), "oa")

    async def both() -> list[BaseException | None]:
        return await asyncio.gather(one(controllers[0], 1), one(controllers[1], 2),
                                    return_exceptions=True)

    outcomes = asyncio.run(both())
    assert outcomes == [None, None], outcomes
    assert len(zl.sent) == 2 and zl.refreshes == 1
    kept = controllers[0].channel_state("oa")
    assert kept is not None and kept["refresh_token"] in zl.refresh_tokens  # still usable
    assert zl.problems == []
