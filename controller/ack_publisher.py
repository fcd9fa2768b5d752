"""Acknowledgements to boxes: what the store has committed, so each may delete it from its outbox."""

from __future__ import annotations

import time
from collections.abc import Callable

from controller.state import AgentInfo
from hcc_common import wire

# Acknowledgements to agents (what they may delete from their outbox): at most this often. No
# latency rides on them (an agent only keeps a few seconds more on disk), while a country's
# 10,000 boxes acknowledged every half second would add 20,000 messages a second.
ACK_EVERY_S = 5.0
ACK_IDLE_S = 30.0


class AckPublisher:
    """Told of each agent whose delivery accounting a commit moved; publishes their acks."""

    def __init__(self, publish: Callable[[wire.Encoded], None],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.publish = publish
        self.monotonic = monotonic
        # agents whose delivery accounting moved since their last acknowledgement
        self._due: dict[tuple[str, str], AgentInfo] = {}
        self._acked_at = 0.0
        self._agent_acked: dict[tuple[str, str], float] = {}  # monotonic, per agent

    def committed(self, agent: AgentInfo) -> None:
        """This agent's snapshot was committed: it is owed an acknowledgement."""
        self._due[(agent.center, agent.agent)] = agent

    def keep_only(self, mine: Callable[[str], bool]) -> None:
        """Forget the agents of centers no longer ours (partitions handed over)."""
        self._due = {k: v for k, v in self._due.items() if mine(k[0])}

    def publish_due(self, final: bool) -> None:
        """Tell each agent what is committed, so it may delete those reports: once a broker
        has lost its queue (kill -9), the agents still hold everything not confirmed here."""
        now = self.monotonic()
        if not self._due or (now - self._acked_at < ACK_EVERY_S and not final):
            return
        self._acked_at = now
        due, self._due = self._due, {}
        for key, agent in due.items():
            # An agent missing nothing only trims its outbox with an ack: once in ACK_IDLE_S
            # is enough (10,000 boxes every 5 s would be 2,000 messages a second). One whose
            # reports we lack hears it at once, so that it sends them again.
            if not final and agent.gaps == 0 and now - self._agent_acked.get(key, -1e9) \
                    < ACK_IDLE_S:
                self._due.setdefault(key, agent)  # later
                continue
            self._agent_acked[key] = now
            self.publish(wire.encode_ack(wire.Ack(agent.center, agent.agent,
                                                  agent.seqs.acks())))
