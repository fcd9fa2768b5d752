"""SNMP trap receiver (v1/v2c): a trap from a known device triggers its poll at once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import ntfrcv

from hcc_common.devices_config import TrapSettings

log = logging.getLogger("hcc.agent.traps")

SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
# What the well-known traps mean, for the log; any trap from a known device triggers a poll.
KNOWN_TRAPS = {
    "1.3.6.1.6.3.1.1.5.1": "coldStart", "1.3.6.1.6.3.1.1.5.2": "warmStart",
    "1.3.6.1.6.3.1.1.5.3": "linkDown", "1.3.6.1.6.3.1.1.5.4": "linkUp",
    "1.3.6.1.2.1.43.18.2.0.1": "printerV2Alert",
}

TrapHandler = Callable[[str, str], None]  # (source address, trap OID)


class TrapReceiver:
    """Listens on UDP in the running event loop. Its own engine: traps carry their own community."""

    def __init__(self, settings: TrapSettings, on_trap: TrapHandler) -> None:
        self.settings = settings
        self.on_trap = on_trap
        self.received = 0
        self._engine = engine.SnmpEngine()

    def start(self) -> None:
        s = self.settings
        config.add_transport(self._engine, udp.DOMAIN_NAME,
                             udp.UdpAsyncioTransport().open_server_mode((s.bind, s.port)))
        config.add_v1_system(self._engine, "hcc-traps", s.community)
        ntfrcv.NotificationReceiver(self._engine, self._received)
        log.info("trap receiver listening", extra={"bind": s.bind, "port": s.port})

    def _received(self, snmp_engine: Any, state_reference: Any, _ctx_engine_id: Any,
                  _ctx_name: Any, var_binds: Any, _cb_ctx: Any) -> None:
        self.received += 1
        _, address = snmp_engine.message_dispatcher.get_transport_info(state_reference)
        source = str(address[0])
        trap_oid = ""
        for oid, value in var_binds:
            if str(oid) == SNMP_TRAP_OID:
                trap_oid = str(value)
        log.info("trap", extra={"source": source, "trap": KNOWN_TRAPS.get(trap_oid, trap_oid)})
        self.on_trap(source, trap_oid)

    def close(self) -> None:
        self._engine.close_dispatcher()
