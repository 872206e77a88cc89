"""Help text that reads well at any terminal width.

Typer's rich help keeps a docstring's single line breaks inside a paragraph and then wraps
again at the terminal's width, so an 80-column terminal shows ragged lines ("… A WARC" /
"archive's HTML …"). Prose paragraphs are joined into one line before Typer sees them, and
rich wraps them once. Examples and other laid-out paragraphs (indented continuation lines,
a trailing backslash, or a ``Label:  value`` first line) are kept as written.
"""

from __future__ import annotations

import inspect
import re

import typer

_LABEL = re.compile(r"^[A-Z][\w-]*:  ")  # "Example:  newsetl …", "Sharded:  …"


def _laid_out(paragraph: str) -> bool:
    lines = paragraph.split("\n")
    return (
        bool(_LABEL.match(lines[0]))
        or any(line[:1].isspace() for line in lines[1:])
        or any(line.rstrip().endswith("\\") for line in lines)
    )


def reflow(doc: str) -> str:
    """``doc`` with the line breaks inside each prose paragraph replaced by spaces."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(
        p if _laid_out(p) else " ".join(line.strip() for line in p.split("\n")) for p in paragraphs
    )


def reflow_commands(app: typer.Typer) -> None:
    """Give every command of ``app`` and its sub-apps its docstring, reflowed, as help."""
    for info in app.registered_commands:
        doc = info.help if info.help is not None else (info.callback.__doc__ if info.callback else None)
        if doc:
            info.help = reflow(doc)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            reflow_commands(group.typer_instance)
