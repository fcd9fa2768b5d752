"""Thin SNMP I/O over pysnmp 7 (asyncio): GETs and column walks, returning plain Python values."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyasn1.type import univ
from pysnmp.hlapi.v3arch import asyncio as hlapi
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    next_cmd,
)
from pysnmp.proto import errind, rfc1902, rfc1905

from agent.config import SnmpV3
from agent.poll_clock import queued_for
from agent.snmpdecode import SnmpValue

# Bound a walk so a device that loops its MIB cannot keep us busy for ever, yet let a
# controller's client table (tens of thousands of stations) be read whole: 64 requests cut
# it at 1,600 rows, a wrong count. A long walk is fair to the others: each request waits for
# a slot like theirs, and its time past the device's own deadline ends it (agent/poller.py).
MAX_WALK_ROWS = 100_000
MAX_WALK_REQUESTS = 8_192
PROBE_BATCH = 64
BULK_REPETITIONS = 25
# Requests in flight at once: a burst of hundreds overruns small agents' (and snmpsim's) UDP
# buffers, and a lost datagram costs a whole timeout.
MAX_IN_FLIGHT = 24
# A device whose last request went unanswered waits in a lane of its own: each dead device
# holds a slot for its whole timeout, and 24 of them held every slot the live ones need (as
# Zabbix keeps pollers apart for unreachable hosts). It leaves the lane at its next answer.
UNANSWERED_IN_FLIGHT = 8


class SnmpError(Exception):
    """The device did not answer, or answered with an SNMP error."""

    def __init__(self, message: str, answered: bool = False, cause: str = "other") -> None:
        super().__init__(message)
        self.answered = answered
        # "auth" (it refused our v3 user or keys), "timeout" (silence: wrong community, SNMP
        # off, or no host), "name" (its name is unknown), "other"
        self.cause = cause


# pysnmp's security errors, in words a technician can act on (the device did answer).
_SECURITY_ERRORS = {
    "wrong snmp pdu digest": "SNMPv3 authentication failed: check auth and auth_key",
    "unknown usm user": "the device does not know this SNMPv3 user",
    "decryption error": "SNMPv3 decryption failed: check priv and priv_key",
    "unsupported security level": "the device refuses this SNMPv3 security level",
    "unknown engine id": "SNMPv3 engine discovery failed",
}


def _indication(err: object) -> SnmpError:
    text = str(err)
    for needle, words in _SECURITY_ERRORS.items():
        if needle in text.lower():
            return SnmpError(words, answered=True, cause="auth")
    return SnmpError(text, cause="timeout" if isinstance(err, errind.RequestTimedOut)
                     else "other")


@dataclass(frozen=True)
class SnmpTarget:
    host: str
    port: int
    version: str  # "1" or "2c"
    community: str
    timeout: float
    retries: int
    v3: SnmpV3 | None = None


AUTH = {"none": hlapi.usmNoAuthProtocol, "md5": hlapi.usmHMACMD5AuthProtocol,
        "sha": hlapi.usmHMACSHAAuthProtocol, "sha224": hlapi.usmHMAC128SHA224AuthProtocol,
        "sha256": hlapi.usmHMAC192SHA256AuthProtocol, "sha384": hlapi.usmHMAC256SHA384AuthProtocol,
        "sha512": hlapi.usmHMAC384SHA512AuthProtocol}
PRIV = {"none": hlapi.usmNoPrivProtocol, "des": hlapi.usmDESPrivProtocol,
        "aes": hlapi.usmAesCfb128Protocol, "aes192": hlapi.usmAesCfb192Protocol,
        "aes256": hlapi.usmAesCfb256Protocol}


def to_python(value: object) -> SnmpValue:
    """pysnmp value -> int | bytes | str (OID or IP) | None (no such object / end of view)."""
    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView):
        return None
    if isinstance(value, univ.Null):
        return None
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(b) for b in value.asOctets())
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets())
    if isinstance(value, univ.ObjectIdentifier):
        return str(value)
    if isinstance(value, univ.Integer):
        return int(value)
    return str(value)


class SnmpClient:
    """One SnmpEngine per event loop, reused for every device (a fresh one per request is 30x slower)."""

    def __init__(self) -> None:
        # One engine for all community-based devices; one more per distinct SNMPv3 user and
        # keys, since an engine holds one set of keys per user name.
        self._engines: dict[SnmpV3 | None, SnmpEngine] = {}
        self._targets: dict[SnmpTarget, UdpTransportTarget] = {}
        self._slots: asyncio.Semaphore | None = None
        self._unanswered_slots: asyncio.Semaphore | None = None
        self.unanswered: set[SnmpTarget] = set()  # their last request timed out

    @property
    def slots(self) -> asyncio.Semaphore:
        if self._slots is None:  # created inside the running loop
            self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        return self._slots

    def _lane(self, t: SnmpTarget) -> asyncio.Semaphore:
        if t not in self.unanswered:
            return self.slots
        if self._unanswered_slots is None:
            self._unanswered_slots = asyncio.Semaphore(UNANSWERED_IN_FLIGHT)
        return self._unanswered_slots

    def _answered(self, t: SnmpTarget, err_ind: object) -> None:
        if isinstance(err_ind, errind.RequestTimedOut):
            self.unanswered.add(t)
        else:
            self.unanswered.discard(t)

    def _engine_for(self, t: SnmpTarget) -> SnmpEngine:
        key = None if t.v3 is None else SnmpV3(t.v3.user, t.v3.auth_protocol, t.v3.auth_key,
                                               t.v3.priv_protocol, t.v3.priv_key)
        engine = self._engines.get(key)
        if engine is None:
            engine = self._engines[key] = SnmpEngine()
        return engine

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close_dispatcher()
        self._engines.clear()

    async def _transport(self, t: SnmpTarget) -> UdpTransportTarget:
        cached = self._targets.get(t)
        if cached is None:
            try:
                cached = await UdpTransportTarget.create(
                    (t.host, t.port), timeout=t.timeout, retries=t.retries
                )
            except Exception as exc:  # noqa: BLE001 - pysnmp raises its own error types for DNS failures
                raise SnmpError(f"cannot resolve {t.host}: {exc}", cause="name") from None
            self._targets[t] = cached
        return cached

    @staticmethod
    def _auth(t: SnmpTarget) -> CommunityData | UsmUserData:
        if t.v3 is not None:
            v3 = t.v3
            return UsmUserData(v3.user, authKey=v3.auth_key, privKey=v3.priv_key,
                               authProtocol=AUTH[v3.auth_protocol],
                               privProtocol=PRIV[v3.priv_protocol])
        return CommunityData(t.community, mpModel=0 if t.version == "1" else 1)

    @staticmethod
    def _context(t: SnmpTarget) -> ContextData:
        return ContextData(contextName=t.v3.context) if t.v3 is not None else ContextData()

    async def get(self, t: SnmpTarget, oids: Sequence[str]) -> dict[str, SnmpValue]:
        transport = await self._transport(t)
        async with queued_for(self._lane(t)):
            err_ind, err_status, _, var_binds = await get_cmd(
                self._engine_for(t), self._auth(t), transport, self._context(t),
                *(ObjectType(ObjectIdentity(o)) for o in oids), lookupMib=False,
            )
        self._answered(t, err_ind)
        if err_ind is not None:
            raise _indication(err_ind)
        if int(err_status) != 0:
            # The device answered, with an error status for the whole request: SNMPv1 when one
            # OID is missing, and v2c agents that send genErr/noSuchName for an object of a
            # product line they are not (a profile names every line's objects). Ask one by one;
            # an object answered with an error has no value we can read, it is not a dead device.
            if len(oids) > 1:
                merged: dict[str, SnmpValue] = {}
                for oid in oids:
                    merged.update(await self.get(t, [oid]))
                return merged
            return {oids[0]: None}
        return {str(oid): to_python(val) for oid, val in var_binds}

    async def present(self, t: SnmpTarget, prefixes: Sequence[str]) -> set[str]:
        """Which OID subtrees hold anything: one GETNEXT per PROBE_BATCH of them (every
        profile's probes in one PDU would pass what small agents answer: tooBig)."""
        found: set[str] = set()
        for at in range(0, len(prefixes), PROBE_BATCH):
            found |= await self._present(t, prefixes[at:at + PROBE_BATCH])
        return found

    async def _present(self, t: SnmpTarget, prefixes: Sequence[str]) -> set[str]:
        transport = await self._transport(t)
        async with queued_for(self._lane(t)):
            err_ind, err_status, _, var_binds = await next_cmd(
                self._engine_for(t), self._auth(t), transport, self._context(t),
                *(ObjectType(ObjectIdentity(p)) for p in prefixes), lookupMib=False,
            )
        self._answered(t, err_ind)
        if err_ind is not None:
            raise _indication(err_ind)
        if int(err_status) != 0:
            # (v1's noSuchName at the end of its MIB, tooBig, a genErr for one subtree): one by
            # one, a subtree answered with an error holds nothing we can read
            if len(prefixes) == 1:
                return set()
            found: set[str] = set()
            for p in prefixes:
                found |= await self._present(t, [p])
            return found
        out = set()
        for prefix, (oid, val) in zip(prefixes, var_binds, strict=False):
            if str(oid).startswith(prefix + ".") and not isinstance(val, rfc1905.EndOfMibView):
                out.add(prefix)
        return out

    async def walk_columns(
        self, t: SnmpTarget, columns: Sequence[str]
    ) -> dict[str, dict[str, SnmpValue]]:
        """Walk several table columns together; returns {column: {row index: value}}."""
        transport = await self._transport(t)
        result: dict[str, dict[str, SnmpValue]] = {c: {} for c in columns}
        cursor = {c: c for c in columns}
        active = list(columns)
        rows = 0
        for _ in range(MAX_WALK_REQUESTS):
            if not active or rows >= MAX_WALK_ROWS:
                break
            var_types = [ObjectType(ObjectIdentity(cursor[c])) for c in active]
            async with queued_for(self._lane(t)):
                err_ind, err_status, var_binds = await self._next_batch(t, transport, var_types)
            self._answered(t, err_ind)
            if err_ind is not None:
                raise _indication(err_ind)
            if int(err_status) != 0:
                # v1 signals end of MIB with noSuchName: the walk is over.
                break
            finished: set[str] = set()
            for i, (oid, val) in enumerate(var_binds):
                column = active[i % len(active)]
                if column in finished:
                    continue
                oid_s = str(oid)
                prefix = column + "."
                if not oid_s.startswith(prefix) or isinstance(val, rfc1905.EndOfMibView):
                    finished.add(column)
                    continue
                result[column][oid_s[len(prefix):]] = to_python(val)
                cursor[column] = oid_s
                rows += 1
            if not var_binds:
                break
            active = [c for c in active if c not in finished]
        return result

    async def _next_batch(self, t: SnmpTarget, transport: UdpTransportTarget,
                          var_types: list[ObjectType]) -> tuple[Any, Any, Any]:
        """One GETNEXT (v1) or GETBULK (v2c, v3) for the columns still being walked."""
        if t.version == "1":
            err_ind, err_status, _, var_binds = await next_cmd(
                self._engine_for(t), self._auth(t), transport, self._context(t), *var_types,
                lookupMib=False,
            )
        else:
            err_ind, err_status, _, var_binds = await bulk_cmd(
                self._engine_for(t), self._auth(t), transport, self._context(t), 0,
                BULK_REPETITIONS, *var_types, lookupMib=False,
            )
        return err_ind, err_status, var_binds
