"""Why a network call failed, as one cause a technician can act on (port closed, name unknown, a
TLS certificate expired, https:// to a plain-HTTP port, a password refused, silence); pure: an
exception in, a cause out. The box's checks, its broker link and enrollment, and the
controller's notification channels all read failures through this one classifier."""

from __future__ import annotations

import errno
import re
import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum


class Cause(StrEnum):
    REFUSED = "refused"  # the host is on, nothing listens on the port: the service is down
    NAME_UNKNOWN = "name_unknown"  # DNS has no such name
    DNS_DOWN = "dns_down"  # the DNS server did not answer: the caller's DNS, not the name
    NO_ROUTE = "no_route"  # the caller has no route to that network: its own settings
    HOST_DOWN = "host_down"  # the LAN says nobody has that address (no ARP answer)
    NOT_TLS = "not_tls"  # https:// to a port that speaks plain HTTP (or something else)
    TLS_EXPIRED = "tls_expired"
    TLS_WRONG_NAME = "tls_wrong_name"
    TLS_UNTRUSTED = "tls_untrusted"
    TLS_FAILED = "tls_failed"  # any other handshake failure (old protocol, no shared cipher)
    NOT_HTTP = "not_http"  # connected, but the reply is not HTTP (http:// to an HTTPS port?)
    NO_ANSWER = "no_answer"  # nothing in time, connection not known to be open
    READ_TIMEOUT = "read_timeout"  # the connection opened, then silence: the service hangs
    AUTH = "auth"  # HTTP 401/403, an MQTT "not authorized": our user or password is wrong
    HTTP_ERROR = "http_error"  # another 4xx: a wrong path
    HTTP_SERVER_ERROR = "http_server_error"  # 5xx: the service's own fault
    OTHER = "other"


# Causes where something at the address answered: it is powered and on the network.
ANSWERED = frozenset({Cause.REFUSED, Cause.NOT_TLS, Cause.TLS_EXPIRED, Cause.TLS_WRONG_NAME,
                      Cause.TLS_UNTRUSTED, Cause.TLS_FAILED, Cause.NOT_HTTP, Cause.READ_TIMEOUT,
                      Cause.AUTH, Cause.HTTP_ERROR, Cause.HTTP_SERVER_ERROR})
# Causes that the same call made again will not cure (a setting must change first).
LASTING = frozenset({Cause.NAME_UNKNOWN, Cause.NOT_TLS, Cause.TLS_EXPIRED, Cause.TLS_WRONG_NAME,
                     Cause.TLS_UNTRUSTED, Cause.TLS_FAILED, Cause.AUTH, Cause.HTTP_ERROR})

# OpenSSL's X509_V_ERR codes (openssl/x509_vfy.h)
CERT_EXPIRED = 10
CERT_NOT_YET_VALID = 9
NAME_MISMATCH = (62, 64)  # a host name, or an IP address, that the certificate is not for
# OpenSSL's reasons when the peer's first bytes are not a TLS record: "HTTP/1.1 400…" read as a
# record header (1.1/3.0: WRONG_VERSION_NUMBER; 3.2+: RECORD_LAYER_FAILURE or
# PACKET_LENGTH_TOO_LONG), or an old SSLv2-looking reply (UNKNOWN_PROTOCOL)
NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE",
                             "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL", "HTTP_REQUEST",
                             "WRONG_SSL_VERSION"})


@dataclass(frozen=True)
class NetFailure:
    cause: Cause
    detail: str  # one line, in English, for logs and --json
    status: int | None = None  # the HTTP status, for the HTTP causes

    @property
    def answered(self) -> bool:
        return self.cause in ANSWERED


def one_line(text: str, limit: int = 200) -> str:
    """A library's message as one clean line: its first line, without 'for more information'
    links, shortened."""
    first = next((line.strip() for line in str(text).splitlines()
                  if line.strip() and not line.strip().lower().startswith("for more information")),
                 "")
    return first if len(first) <= limit else first[:limit - 1] + "…"


def _chain(exc: BaseException) -> list[BaseException]:
    out = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _names(exc: BaseException) -> set[str]:
    # httpx, httpcore, aiohttp and pyipp are named, not imported: the box imports its HTTP
    # client only when a check needs one, and the controller has no aiohttp
    return {c.__name__ for c in type(exc).__mro__}


def http_status(status: int, target: str) -> NetFailure:
    """An HTTP error status: the service answered, and said why it will not serve us."""
    if status in (401, 403):
        cause = Cause.AUTH
    elif status >= 500:
        cause = Cause.HTTP_SERVER_ERROR
    else:
        cause = Cause.HTTP_ERROR
    return NetFailure(cause, f"{target}: HTTP {status}", status)


def _tls_reason(e: ssl.SSLError) -> str:
    # a wrapper (aiohttp's ClientConnectorSSLError is an SSLError too) carries no reason of
    # its own, only the words of the one it wraps: "[SSL: WRONG_VERSION_NUMBER] …"
    found = getattr(e, "reason", None) or _SSL_REASON.search(str(e))
    return (found if isinstance(found, str) else found.group(1)) if found else ""


_SSL_REASON = re.compile(r"\[SSL: (\w+)\]")


def _tls(errors: list[ssl.SSLError], target: str) -> NetFailure:
    # the innermost error says most: a wrapper's words are the same or fewer
    e = errors[-1]
    text = one_line(f"{target}: {e}")
    verified = [x for x in errors if isinstance(x, ssl.SSLCertVerificationError)]
    if verified:
        code = getattr(verified[-1], "verify_code", None)
        if code in (CERT_EXPIRED, CERT_NOT_YET_VALID):
            return NetFailure(Cause.TLS_EXPIRED, text)
        if code in NAME_MISMATCH:
            return NetFailure(Cause.TLS_WRONG_NAME, text)
        return NetFailure(Cause.TLS_UNTRUSTED, text)
    if any(_tls_reason(x) in NOT_TLS_REASONS for x in errors):
        return NetFailure(Cause.NOT_TLS, text)
    return NetFailure(Cause.TLS_FAILED, text)


# How the clients name a timeout: after the connection opened (the service hangs), or before
# (or during a TLS handshake, which only a second look at the port tells apart).
_READ_TIMEOUTS = {"ReadTimeout", "WriteTimeout", "SocketTimeoutError", "ServerTimeoutError"}
_TIMEOUTS = {"TimeoutError", "TimeoutException", "ConnectTimeout", "PoolTimeout",
             "ConnectionTimeoutError"}
# Connected, then the peer closed or sent something that is not HTTP.
_NOT_HTTP = {"RemoteProtocolError", "ReadError", "ServerDisconnectedError", "ClientPayloadError",
             "BadStatusLine", "LocalProtocolError"}


def _timeout(names: set[str], target: str) -> NetFailure | None:
    if names & _READ_TIMEOUTS and "ConnectTimeout" not in names:
        return NetFailure(Cause.READ_TIMEOUT, f"{target}: connected, no reply in time")
    if names & _TIMEOUTS:
        return NetFailure(Cause.NO_ANSWER, f"{target}: no answer in time")
    return None


def classify(exc: BaseException, target: str) -> NetFailure:
    """The cause an exception from talking to `target` (host or host:port) means."""
    # a timeout first: what it interrupted (an SSLWantReadError mid-handshake) is no cause
    timed_out = _timeout(_names(exc), target)
    if timed_out is not None:
        return timed_out
    chain = _chain(exc)
    tls = [e for e in chain if isinstance(e, ssl.SSLError)
           and not isinstance(e, ssl.SSLWantReadError | ssl.SSLWantWriteError)]
    if tls:
        return _tls(tls, target)
    for e in chain:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if "HTTPStatusError" in _names(e) and isinstance(status, int):
            return http_status(status, target)
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return NetFailure(Cause.REFUSED, f"{target}: connection refused")
        if isinstance(e, socket.gaierror):
            if e.errno in (socket.EAI_AGAIN, socket.EAI_FAIL):
                return NetFailure(Cause.DNS_DOWN, f"{target}: the DNS server does not answer")
            return NetFailure(Cause.NAME_UNKNOWN, f"{target}: name not found")
        if getattr(e, "errno", None) == errno.ENETUNREACH:
            return NetFailure(Cause.NO_ROUTE, f"{target}: network is unreachable from here")
        if getattr(e, "errno", None) == errno.EHOSTUNREACH:
            return NetFailure(Cause.HOST_DOWN, f"{target}: no host has this address")
    names = set().union(*(_names(e) for e in chain))
    timed_out = _timeout(names, target)
    if timed_out is not None:
        return timed_out
    if names & _NOT_HTTP:
        return NetFailure(Cause.NOT_HTTP, one_line(f"{target}: {type(exc).__name__}: {exc}"))
    return NetFailure(Cause.OTHER, one_line(f"{target}: {type(exc).__name__}: {exc}"))


# What each cause means and where to look, for messages that are not a device's fault (the
# box's broker link, enrollment, a notification channel): {target} is host:port or a URL.
_WORDS: dict[Cause, tuple[str, str]] = {
    Cause.REFUSED: ("{target} refuses connections: the service there is not running (or the "
                    "port is wrong)",
                    "{target} từ chối kết nối: dịch vụ ở đó chưa chạy (hoặc sai cổng)"),
    Cause.NAME_UNKNOWN: ("the name in {target} is not found: check its spelling, or use the IP "
                         "address",
                         "không tìm thấy tên trong {target}: kiểm tra chính tả, hoặc dùng địa "
                         "chỉ IP"),
    Cause.DNS_DOWN: ("the DNS server does not answer for the name in {target}: check this "
                     "machine's DNS settings and the router",
                     "máy chủ DNS không trả lời cho tên trong {target}: kiểm tra cấu hình DNS "
                     "của máy này và router"),
    Cause.NO_ROUTE: ("this machine has no route to {target}: check its network settings "
                     "(address, gateway)",
                     "máy này không có đường mạng tới {target}: kiểm tra cấu hình mạng "
                     "(địa chỉ, gateway)"),
    Cause.HOST_DOWN: ("nobody has the address of {target} on the network: check that it is "
                      "powered on and its cable",
                      "không có máy nào mang địa chỉ {target} trên mạng: kiểm tra nguồn và "
                      "cáp mạng của nó"),
    Cause.NOT_TLS: ("{target} does not speak TLS on this port: use the plain address "
                    "(http://, mqtt://) or the TLS port",
                    "{target} không dùng TLS ở cổng này: dùng địa chỉ không mã hoá (http://, "
                    "mqtt://) hoặc đúng cổng TLS"),
    Cause.TLS_EXPIRED: ("the certificate of {target} has expired (or this machine's clock is "
                        "wrong): renew it",
                        "chứng chỉ của {target} đã hết hạn (hoặc đồng hồ máy này sai): gia hạn "
                        "chứng chỉ"),
    Cause.TLS_WRONG_NAME: ("the certificate of {target} is for another name: use the name on "
                           "the certificate",
                           "chứng chỉ của {target} cấp cho tên khác: dùng đúng tên ghi trên "
                           "chứng chỉ"),
    Cause.TLS_UNTRUSTED: ("the certificate of {target} is not trusted (self-signed or unknown "
                          "issuer): give its CA file",
                          "chứng chỉ của {target} không được tin cậy (tự ký hoặc không rõ nơi "
                          "cấp): khai báo tệp CA"),
    Cause.TLS_FAILED: ("the secure connection (TLS) to {target} failed: its TLS settings do "
                       "not match ours",
                       "không thiết lập được kết nối bảo mật (TLS) tới {target}: cấu hình TLS "
                       "hai bên không khớp"),
    Cause.NOT_HTTP: ("{target} answers, but not in HTTP: if it is HTTPS, use https://",
                     "{target} có trả lời nhưng không phải HTTP: nếu là HTTPS, đổi thành "
                     "https://"),
    Cause.NO_ANSWER: ("no answer from {target} in time: check the network between here and "
                      "there",
                      "{target} không trả lời kịp: kiểm tra đường mạng từ đây tới đó"),
    Cause.READ_TIMEOUT: ("{target} took the connection but never replied: its service hangs",
                         "{target} nhận kết nối nhưng không trả lời: dịch vụ ở đó bị treo"),
    Cause.AUTH: ("{target} refuses our sign-in{said}: check the user name, password or "
                 "token",
                 "{target} từ chối đăng nhập{said}: kiểm tra tên đăng nhập, mật khẩu hoặc "
                 "token"),
    Cause.HTTP_ERROR: ("{target} answers HTTP {status}: check the address (path)",
                       "{target} trả lời HTTP {status}: kiểm tra đường dẫn"),
    Cause.HTTP_SERVER_ERROR: ("{target} reports an error of its own (HTTP {status})",
                              "{target} tự báo lỗi (HTTP {status})"),
    Cause.OTHER: ("talking to {target} failed: {detail}",
                  "không liên lạc được với {target}: {detail}"),
}


def words(failure: NetFailure, target: str, lang: str = "vi") -> str:
    """The failure in a technician's words (Vietnamese unless lang is 'en')."""
    en, vi = _WORDS[failure.cause]
    said = f" (HTTP {failure.status})" if failure.status is not None else ""
    return (vi if lang == "vi" else en).format(target=target, status=failure.status or "?",
                                               detail=failure.detail, said=said)
