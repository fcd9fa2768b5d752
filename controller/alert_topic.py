"""The MQTT alert feed: each alert change the feed hands out, published on hcc/v1/alerts/<center>."""

from __future__ import annotations

import json
from collections.abc import Callable

from controller.store import AlertChange
from controller.views import change_json
from hcc_common import wire


class AlertTopicPublisher:
    """A subscriber of the alert feed (controller/feed.py), next to the notifier and SSE."""

    def __init__(self, publish: Callable[[wire.Encoded], None]) -> None:
        self.publish = publish

    def on_change(self, change: AlertChange, silenced: bool = False) -> None:
        """One message per alert change, with whether a silence covers it (as on the API and
        the SSE stream)."""
        payload = json.dumps(change_json(change, silenced), ensure_ascii=False).encode()
        self.publish(wire.Encoded(wire.alerts_topic(change.alert.center), payload, retain=False))
