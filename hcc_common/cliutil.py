"""Small helpers both command-line tools share: the --lang option on every command, the help
texts in the chosen language, and one-line failures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Mapping as TMapping
from typing import NoReturn

import typer

from hcc_common import texts


def start_lang(argv: Sequence[str] | None = None,
               environ: TMapping[str, str] | None = None) -> str:
    """The language chosen at start (texts.start_lang): --lang, $HCC_LANG, the locale."""
    return texts.start_lang(argv, environ)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `lỗi: …` (`error: …`) on stderr and exit, never a traceback; `message` is in the
    reader's language already."""
    typer.echo(texts.tr("error: {message}", message=message), err=True)
    raise typer.Exit(code)


def lang_or_exit(lang: str | None) -> str:
    """A command's --lang, or the one chosen at start."""
    if lang is None:
        return texts.current()
    try:
        texts.set_lang(lang)
    except ValueError as exc:
        fail(texts.tr(str(exc)), 2)
    return lang


def _lang_given(ctx: object, param: object, value: str | None) -> None:
    if value is not None:
        try:
            texts.set_lang(value)
        except ValueError as exc:
            fail(texts.tr(str(exc)), 2)


def with_lang_everywhere(command: object, model: object | None = None) -> None:
    """Every command and group of the tree takes --lang vi|en (before or after the command's
    own arguments), even one that declares no `lang` parameter of its own: it gets a copy of
    the root's --lang option that sets the language instead of passing a value."""
    import copy

    params = getattr(command, "params", [])
    own = next((p for p in params if "--lang" in getattr(p, "opts", ())), None)
    if model is None:
        model = own
    if own is None and model is not None:
        option = copy.copy(model)
        option.expose_value = False  # type: ignore[union-attr]
        option.callback = _lang_given  # type: ignore[union-attr]
        params.append(option)
    for sub in getattr(command, "commands", {}).values():
        with_lang_everywhere(sub, model)


def run_app(app: typer.Typer, help_vi: TMapping[str, str] | None = None) -> None:
    """Run a Typer app in the language chosen at start: its help texts and click's own words
    translated, and --lang on every command."""
    import typer.main

    lang = texts.start_lang()
    texts.set_lang(lang)
    speak_to_click(lang)
    command = typer.main.get_command(app)
    with_lang_everywhere(command)
    if lang == "vi":
        translate_help(command, help_vi if help_vi is not None else texts.catalog())
    command()


# click's and Typer's own words (headings, the --help line, usage errors), in Vietnamese: a part
# of the one catalog
CLICK_VI = texts.register({
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
}, __name__)


def speak_to_click(lang: str) -> None:
    """Make click's and Typer's own texts follow the tool's language (they call gettext by the
    name `_` in each module; only their few fixed words are replaced)."""
    if lang != "vi":
        return
    import importlib

    def vi(text: str) -> str:
        return texts.tr(text, "vi")

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
