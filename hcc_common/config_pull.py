"""`hcc-controller config pull`: the controller asks one box for the devices.yaml it runs, the box
answers with it. Both messages, their topics and their limits (a box's answer is untrusted)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from hcc_common import wire

PULL_SEGMENT = "cmd/config-pull"     # controller -> box (under the box's cmd/, its ACL's)
CURRENT_SEGMENT = "config/current"   # box -> controller (under the box's own topics)
MAX_CONTENT_BYTES = 256 * 1024       # a center's devices.yaml is a few KB; more is not one
_REQUEST = re.compile(r"[0-9a-f]{16,32}")
_VERSION = re.compile(r"[0-9a-f]{12}|unknown")
SOURCES = ("local", "pushed")


class PullError(ValueError):
    """An answer that is not one: said in the dead letter, never applied."""


@dataclass(frozen=True)
class PullRequest:
    center: str
    agent: str
    request: str


@dataclass(frozen=True)
class CurrentConfig:
    center: str
    agent: str
    request: str
    version: str
    source: str          # "local": its own devices.yaml; "pushed": the controller's version
    content: str


def pull_topic(center: str, agent: str) -> str:
    return f"{wire.TOPIC_ROOT}/{center}/{agent}/{PULL_SEGMENT}"


def current_topic(center: str, agent: str) -> str:
    return f"{wire.TOPIC_ROOT}/{center}/{agent}/{CURRENT_SEGMENT}"


def _parts(topic: str, segment: str) -> tuple[str, str]:
    prefix = f"{wire.TOPIC_ROOT}/"
    suffix = f"/{segment}"
    if not (topic.startswith(prefix) and topic.endswith(suffix)):
        raise PullError(f"not a {segment} topic")
    middle = topic[len(prefix):-len(suffix)].split("/")
    if len(middle) != 2 or not all(wire.valid_id(p) for p in middle):
        raise PullError("bad center or agent in the topic")
    return middle[0], middle[1]


def is_current(topic: str) -> bool:
    return topic.endswith(f"/{CURRENT_SEGMENT}")


def is_pull(topic: str) -> bool:
    return topic.endswith(f"/{PULL_SEGMENT}")


def encode_pull(req: PullRequest) -> wire.Encoded:
    body = json.dumps({"request": req.request}).encode()
    return wire.Encoded(pull_topic(req.center, req.agent), body, retain=False)


def decode_pull(topic: str, payload: bytes) -> PullRequest:
    center, agent = _parts(topic, PULL_SEGMENT)
    body = _object(payload)
    request = body.get("request")
    if not isinstance(request, str) or not _REQUEST.fullmatch(request):
        raise PullError("bad request id")
    return PullRequest(center, agent, request)


def encode_current(answer: CurrentConfig) -> wire.Encoded:
    body = json.dumps({"request": answer.request, "version": answer.version,
                       "source": answer.source, "content": answer.content},
                      ensure_ascii=False).encode("utf-8")
    return wire.Encoded(current_topic(answer.center, answer.agent), body, retain=False)


def decode_current(topic: str, payload: bytes) -> CurrentConfig:
    """The box's answer, checked: its center and agent are the topic's (the broker's ACL lets a
    box write only its own), sizes and shapes bounded, the content text only."""
    center, agent = _parts(topic, CURRENT_SEGMENT)
    if len(payload) > MAX_CONTENT_BYTES + 4096:
        raise PullError(f"answer of {len(payload)} bytes: more than a devices.yaml")
    body = _object(payload)
    request, version = body.get("request"), body.get("version")
    source, content = body.get("source"), body.get("content")
    if not isinstance(request, str) or not _REQUEST.fullmatch(request):
        raise PullError("bad request id")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise PullError("bad version")
    if source not in SOURCES:
        raise PullError("bad source")
    if not isinstance(content, str) or len(content.encode("utf-8")) > MAX_CONTENT_BYTES:
        raise PullError("content missing or too large")
    if "\x00" in content:
        raise PullError("content is not text")
    return CurrentConfig(center, agent, request, version, str(source), content)


def _object(payload: bytes) -> dict[str, object]:
    try:
        body = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise PullError("not JSON") from None
    if not isinstance(body, dict):
        raise PullError("not a JSON object")
    return body
