"""Channel state in the store: what a notification channel learns at run time (Zalo's rotating
token pair, the citizen form's key), shared by every controller on the database."""

from __future__ import annotations

import json
from typing import Any

from controller.persistence.sql import Records, upsert

SCHEMA = """
-- What a notification channel learns at run time (Zalo's rotating token pair), shared by
-- every controller on the database.
CREATE TABLE IF NOT EXISTS channel_state (
  channel TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL
);
"""


class ChannelStates(Records):
    def channel_state(self, channel: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT state FROM channel_state WHERE channel=?",
                              (channel,)).fetchone()
        return json.loads(row[0]) if row is not None else None

    def set_channel_state(self, channel: str, state: dict[str, Any], at: float) -> None:
        self.db.execute(upsert("channel_state", ("channel", "state", "updated_at"),
                               ("channel",)), (channel, json.dumps(state), at))

    def first_channel_state(self, channel: str, state: dict[str, Any],
                            at: float) -> dict[str, Any]:
        """The channel's state, `state` stored first if it has none: the first writer wins and
        every other (another thread or controller making its own at the same moment) reads
        that one, so a key made on first use is one key."""
        self.db.execute("INSERT INTO channel_state VALUES (?,?,?) ON CONFLICT DO NOTHING",
                        (channel, json.dumps(state), at))
        stored = self.channel_state(channel)
        assert stored is not None  # just inserted, or there already
        return stored
