"""The `composer` command line: each command parses options and makes one library call.

Library modules are imported inside the commands so that `composer --help` stays instant.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from composer import __version__
from composer.errors import ComposerError


class UserError(click.ClickException):
    """Printed as ``Error: <message>`` with exit code 2, never as a traceback."""

    exit_code = 2


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ComposerError as error:
            raise UserError(str(error)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="composer")
def main() -> None:
    """Learn note-event sequences from MIDI files with an LSTM and compose new MIDI."""


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--tokens", "num_tokens", default=32, show_default=True, type=click.IntRange(min=0),
              help="How many of the first tokens to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def inspect(file: Path, num_tokens: int, as_json: bool) -> None:
    """Show what FILE contains and how the default encoding sees it."""
    from composer.config import EncodingConfig
    from composer.inspection import format_inspection, inspect_file

    info = inspect_file(file, EncodingConfig(), num_tokens)
    click.echo(json.dumps(info, indent=2) if as_json else format_inspection(info))
