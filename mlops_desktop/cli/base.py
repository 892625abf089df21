"""What every command shares: the group, JSON output, progress on stderr, and ``main``.

Contract: exit 0 on success; exit 1 on a user error with one ``error:`` line on stderr and no
traceback; ``--json`` prints a machine-readable result on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mlops_desktop.domain.errors import Cancelled, UserError
from mlops_desktop.version import __version__

PROG = "mlops-desktop"


class _Cli(click.Group):
    """A group whose first argument may be a project file instead of a command (-> the GUI)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and not args[0].startswith("-")):
            args = ["gui", *args]
        return super().parse_args(ctx, args)


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print a machine-readable JSON result on stdout."
)


def emit(as_json: bool, payload: dict, text: str) -> None:
    click.echo(json.dumps(payload, indent=2) if as_json else text)


def existing_project(path: Path) -> Path:
    if not path.exists():
        if not path.suffix and path.name == str(path):
            raise UserError(
                f"'{path}' is neither a command nor a project file: "
                f"see '{PROG} --help' for the commands."
            )
        raise UserError(
            f"There is no project file at {path}: check the path, or create one with "
            f"'{PROG} init {path}'."
        )
    return path


class StderrProgress:
    """Progress on stderr for a person at a terminal; silent when piped."""

    def __init__(self):
        self.enabled = sys.stderr.isatty()

    def __call__(self, fraction: float | None, message: str) -> None:
        if self.enabled:
            pct = "" if fraction is None else f"{fraction:4.0%} "
            click.echo(f"\r{pct}{message}".ljust(60), err=True, nl=False)

    def done(self) -> None:
        if self.enabled:
            click.echo("\r".ljust(61) + "\r", err=True, nl=False)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROG)
def cli() -> None:
    """mlops_desktop: the whole machine-learning lifecycle, offline, in one project file.

    Run 'mlops-desktop [PROJECT]' to open the window (on PROJECT if given).
    """


def progress_state():
    from mlops_desktop.domain.tasks import TaskControl

    progress = StderrProgress()
    return progress, TaskControl(on_progress=progress, min_interval=0.2)


def read_json(path: Path):
    if not path.is_file():
        raise UserError(f"There is no file {path}: check the path.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path.name} is not valid JSON ({exc}): fix it and try again.") from None


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and turn user errors into one ``error:`` line and exit code 1."""
    try:
        result = cli.main(args=argv, prog_name=PROG, standalone_mode=False)
    except UserError as exc:
        fail(exc.message)
    except Cancelled:
        fail("cancelled; nothing was changed.")
    except KeyboardInterrupt:
        fail("interrupted; nothing was changed.")
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else PROG
        fail(f"{exc.format_message().rstrip('.')} (see '{command} --help').")
    except click.ClickException as exc:
        fail(exc.format_message())
    except click.exceptions.Abort:
        fail("aborted; nothing was changed.")
    sys.exit(result if isinstance(result, int) else 0)


def fail(message: str) -> None:
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(1)
