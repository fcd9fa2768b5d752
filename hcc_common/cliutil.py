"""Small helpers both command-line tools share: the --lang option and one-line failures."""

from __future__ import annotations

from typing import NoReturn

import typer

from hcc_common import faults as vocab


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: …` on stderr and exit, never a traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def lang_or_exit(lang: str | None) -> str:
    try:
        return vocab.choose_lang(lang)
    except ValueError as exc:
        fail(str(exc), 2)
