"""Writes docs/cli.md, the command-line reference, from the commands themselves.

    python docs/cli_reference.py          rewrite docs/cli.md
    python docs/cli_reference.py --check  exit 1 if docs/cli.md is out of date

A test runs the check, so a new command or option cannot go undocumented.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

OUT = Path(__file__).parent / "cli.md"

HEADER = """# Command-line reference

Every command of `mlops-desktop` (also `python -m mlops_desktop`), with every option. Each
exits 0 on success and 1 on a problem you can fix, with one line on stderr that starts with
`error:` and says what to do; with `--json`, a machine-readable result goes to stdout.
`mlops-desktop PROJECT` with no command opens the window.

This page is generated from the commands' own help (`python docs/cli_reference.py`); the
[README](../README.md#command-line) has the same commands in one table.
"""


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    found = []
    for name in sorted(group.commands):
        command = group.commands[name]
        if command.hidden:
            continue
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += _commands(command, path)
        else:
            found.append((path, command))
    return found


def _option_line(option: click.Option) -> str:
    names = ", ".join(f"`{name}`" for name in [*option.opts, *option.secondary_opts])
    if not option.is_flag and option.metavar:
        names += f" `{option.metavar}`"
    elif isinstance(option.type, click.Choice):
        names += f" `{'|'.join(map(str, option.type.choices))}`"
    elif not option.is_flag:
        names += f" `{option.type.name.upper()}`"
    text = " ".join((option.help or "").split())
    if option.show_default and option.default not in (None, False, ()):
        text += f" (default: {option.default})"
    return f"- {names}: {text}" if text else f"- {names}"


def _markdown(help_text: str) -> str:
    """click's help as Markdown: its no-rewrap blocks (a paragraph opened by \\b) fenced."""
    paragraphs = []
    for paragraph in help_text.split("\n\n"):
        if paragraph.startswith("\b\n"):
            paragraphs.append("```\n" + paragraph[2:] + "\n```")
        elif paragraph.strip():
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)


def render() -> str:
    from mlops_desktop.cli import cli

    parts = [HEADER]
    for path, command in _commands(cli, "mlops-desktop"):
        context = click.Context(command, info_name=path)
        usage = " ".join(command.collect_usage_pieces(context))
        parts.append(f"## `{path}`\n")
        parts.append(f"```\n{path} {usage}\n```\n")
        help_text = inspect.cleandoc((command.help or "").split("\f")[0])
        if help_text:
            parts.append(_markdown(help_text) + "\n")
        options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
        if options:
            parts.append("\n".join(_option_line(option) for option in options) + "\n")
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run python docs/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
