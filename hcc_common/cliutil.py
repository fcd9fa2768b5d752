"""Small helpers both command-line tools share: the --lang option and one-line failures."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from collections.abc import Mapping as TMapping
from typing import NoReturn

import typer

from hcc_common import faults as vocab


def start_lang(argv: Sequence[str] | None = None,
               environ: TMapping[str, str] | None = None) -> str:
    """The language for help texts, chosen at start: --lang en|vi on the command line (before
    or after the command), else the locale's (Vietnamese unless it is English)."""
    args = list(sys.argv[1:] if argv is None else argv)
    for i, a in enumerate(args):
        if a == "--lang" and i + 1 < len(args) and args[i + 1] in ("vi", "en"):
            return args[i + 1]
        if a.startswith("--lang=") and a[7:] in ("vi", "en"):
            return a[7:]
    return vocab.default_lang(os.environ if environ is None else environ)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: …` on stderr and exit, never a traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def lang_or_exit(lang: str | None) -> str:
    try:
        return vocab.choose_lang(lang)
    except ValueError as exc:
        fail(str(exc), 2)


# click's and Typer's own words (headings, the --help line, usage errors), in Vietnamese
CLICK_VI = {
    "Usage:": "Cách dùng:", "Options": "Tùy chọn", "Commands": "Lệnh", "Arguments": "Tham số",
    "Show this message and exit.": "Hiện trợ giúp này rồi thoát.",
    "Error: {message}": "Lỗi: {message}", "Try '{command} {option}' for help.":
    "Xem '{command} {option}' để biết cách dùng.", "No such option {name!r}.":
    "Không có tùy chọn {name!r}.", "Missing argument": "Thiếu tham số",
    "Missing option": "Thiếu tùy chọn", "Missing parameter: {param_name}":
    "Thiếu tham số: {param_name}", "Invalid value for {param_hint}: {message}":
    "Giá trị không hợp lệ cho {param_hint}: {message}", "default: {default}":
    "mặc định: {default}", "required": "bắt buộc", "Aborted!": "Đã dừng!",
    "No such command {name!r}.": "Không có lệnh {name!r}.",
}


def speak_to_click(lang: str) -> None:
    """Make click's and Typer's own texts follow the tool's language (they call gettext by the
    name `_` in each module; only their few fixed words are replaced)."""
    if lang != "vi":
        return
    import importlib

    def vi(text: str) -> str:
        return CLICK_VI.get(text, text)

    # Typer 0.2x carries its own copy of click (typer._click); older ones use click itself
    for package in ("typer._click", "click"):
        for name in ("core", "decorators", "exceptions", "formatting", "parser", "types"):
            try:
                module = importlib.import_module(f"{package}.{name}")
            except ImportError:
                continue
            if hasattr(module, "_"):
                module._ = vi  # type: ignore[attr-defined]
            command = getattr(module, "Command", None) if name == "core" else None
            if command is not None:
                _translate_help_option(command, vi("Show this message and exit."))
    typer_core = importlib.import_module("typer.core")
    if hasattr(typer_core, "_"):
        typer_core._ = vi  # type: ignore[attr-defined]


def _translate_help_option(command: type, text: str) -> None:
    original = command.get_help_option  # type: ignore[attr-defined]

    def help_option(self: object, ctx: object) -> object:
        option = original(self, ctx)
        if option is not None:
            option.help = text
        return option

    command.get_help_option = help_option  # type: ignore[attr-defined]


def translate_help(command: object, texts: Mapping[str, str]) -> None:
    """Replace a click command tree's help texts (the command's and each option's) by their
    translation in `texts`, keyed by the English text; what is missing stays English."""
    text = getattr(command, "help", None)
    if isinstance(text, str) and text.strip() in texts:
        command.help = texts[text.strip()]  # type: ignore[attr-defined]
    for param in getattr(command, "params", []):
        value = getattr(param, "help", None)
        if isinstance(value, str) and value.strip() in texts:
            param.help = texts[value.strip()]
    for sub in getattr(command, "commands", {}).values():
        translate_help(sub, texts)
