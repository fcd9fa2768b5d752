"""Pure SNMP decoders, listed explicitly; profiles name them, the snmp check runs them."""

from __future__ import annotations

from collections.abc import Mapping

from agent.snmpdecode.ats import decode_ats
from agent.snmpdecode.core import (
    ClientSource,
    Decoded,
    Decoder,
    DeviceContext,
    Reading,
    Sample,
    SnmpValue,
    Thresholds,
    text,
)
from agent.snmpdecode.interfaces import decode_interfaces
from agent.snmpdecode.outlets import decode_outlets, decode_pdu_load
from agent.snmpdecode.power import decode_ups
from agent.snmpdecode.printer import decode_printer
from agent.snmpdecode.system import decode_system
from agent.snmpdecode.wifi import decode_wifi_clients

DECODERS: Mapping[str, Decoder] = {
    "system": decode_system,
    "interfaces": decode_interfaces,
    "printer": decode_printer,
    "wifi_clients": decode_wifi_clients,
    "outlets": decode_outlets,
    "pdu_load": decode_pdu_load,
    "ats": decode_ats,
    "ups": decode_ups,
}

__all__ = ["DECODERS", "ClientSource", "Decoded", "Decoder", "DeviceContext", "Reading", "Sample",
           "SnmpValue", "Thresholds", "text"]
