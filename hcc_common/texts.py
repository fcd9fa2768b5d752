"""Every sentence a person reads, in Vietnamese (the default) or English: the one mechanism for
the CLIs' output and help, config errors, the pages' server-side words and the demo's commentary.

A text is written in English where it is used, wrapped in `tr("…{name}…", name=x)`; its
Vietnamese is found in the catalog, keyed by that English (gettext's model, with the catalog
kept as Python tables: `VI = texts.register({...})` in the `*_text.py` modules beside the code).
`translate()` turns an English text already made (a parser's reason, a note the controller
stored) into Vietnamese by the catalog's templates. A test (tests/test_words.py) fails on any
text whose Vietnamese is missing. The fault vocabulary (hcc_common/faults.py) and the glossary
(hcc_common/glossary.py) are tables of terms by code, checked by the same test."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from functools import lru_cache

LANGS = ("vi", "en")

_CATALOG: dict[str, str] = {}
_REGISTERED: list[str] = []  # the modules that registered a catalog part, for the test
_current: list[str] = []


def register(vi: Mapping[str, str], module: str = "") -> Mapping[str, str]:
    """Add English -> Vietnamese entries to the one catalog (a key given twice must agree)."""
    for english, vietnamese in vi.items():
        known = _CATALOG.get(english)
        if known is not None and known != vietnamese:
            raise ValueError(f"{english!r} has two Vietnamese texts: {known!r}, {vietnamese!r}")
        _CATALOG[english] = vietnamese
    if module:
        _REGISTERED.append(module)
    _templates.cache_clear()
    return vi


def catalog() -> Mapping[str, str]:
    return _CATALOG


def default_lang(environ: Mapping[str, str] | None = None) -> str:
    """Vietnamese unless $HCC_LANG or the locale says English (technicians read Vietnamese)."""
    env = os.environ if environ is None else environ
    for var in ("HCC_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return "en" if value.lower().startswith("en") else "vi"
    return "vi"


def start_lang(argv: Sequence[str] | None = None,
               environ: Mapping[str, str] | None = None) -> str:
    """The language chosen at start: --lang en|vi anywhere on the command line, else
    $HCC_LANG, else the locale's."""
    args = list(sys.argv[1:] if argv is None else argv)
    for i, a in enumerate(args):
        if a == "--lang" and i + 1 < len(args) and args[i + 1] in LANGS:
            return args[i + 1]
        if a.startswith("--lang=") and a[7:] in LANGS:
            return a[7:]
    return default_lang(environ)


def set_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"--lang must be one of {', '.join(LANGS)}")
    _current[:] = [lang]


def current() -> str:
    """The process's language (a CLI sets it from --lang at start), else the environment's."""
    return _current[0] if _current else default_lang()


def tr(english: str, lang: str | None = None, /, **params: object) -> str:
    """`english` in `lang` (default: the process's), its {names} filled from params."""
    chosen = lang or current()
    text = english if chosen == "en" else _CATALOG.get(english, english)
    return text.format(**params) if params else text


@lru_cache(maxsize=1)
def _templates() -> tuple[tuple[re.Pattern[str], str], ...]:
    found = []
    for english, vietnamese in _CATALOG.items():
        if "{" not in english:
            continue
        seen: set[str] = set()

        def field(m: re.Match[str], seen: set[str] = seen) -> str:
            name = m.group(1)
            if name in seen:  # a name used twice stands for the same text twice
                return f"(?P={name})"
            seen.add(name)
            return f"(?P<{name}>.+?)"

        pattern = re.sub(r"\\\{(\w+)\\\}", field, re.escape(english))
        found.append((re.compile(f"^{pattern}$", re.DOTALL), vietnamese))
    # the longest English first: "unknown key (did you mean '{x}'?)" before "{x}"
    return tuple(sorted(found, key=lambda t: -len(t[0].pattern)))


def translate(text: str, lang: str | None = None) -> str:
    """An English text already made (a parser's reason, a note the controller stored) in
    `lang`: the catalog's entry for it, or the template it is an instance of, filled with what
    stands in it (each part translated in turn); unknown texts stay as they are."""
    if (lang or current()) == "en":
        return text
    exact = _CATALOG.get(text)
    if exact is not None:
        return exact
    for pattern, vietnamese in _templates():
        m = pattern.match(text)
        if m is not None:
            parts = {k: translate(v, "vi") for k, v in m.groupdict().items()}
            return vietnamese.format(**parts)
    return text


# the words every tool uses: states, severities and the shape of a failure
register({
    "error: {message}": "lỗi: {message}",
    "warning: {message}": "cảnh báo: {message}",
    "ok": "tốt", "warning": "cảnh báo", "critical": "nghiêm trọng", "info": "thông tin",
    "unreachable": "mất kết nối", "unknown": "không rõ", "pending": "đang chờ",
    "firing": "đang báo", "acknowledged": "đã nhận", "resolved": "đã xử lý",
    "opened": "mở lúc", "escalated": "báo lên cấp trên", "silenced": "tạm tắt", "note": "ghi chú",
    "online": "đang kết nối", "offline": "mất kết nối",
    "--lang must be one of {choices}": "--lang phải là một trong: {choices}",
    "--lang must be one of vi, en": "--lang phải là một trong: vi, en",
    "Language: vi (default; also $HCC_LANG) or en.":
        "Ngôn ngữ: vi (mặc định; hoặc đặt $HCC_LANG) hoặc en.",
}, __name__)
