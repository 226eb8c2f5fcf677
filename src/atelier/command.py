"""One `atelier` command as its stage declares it: name, help, example, arguments and run function.

The same description makes the sub-command of `atelier` (atelier.cli) and the job's own entry point
(`Command.main`, what jobs/<name>.py runs under spark-submit); both parse as `atelier <name>`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from atelier import outcome, runtime
from atelier.errors import EXIT_REFUSED


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """For a command that takes only the configuration arguments."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    example: str
    run: Callable[[argparse.Namespace], None]
    add_arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments

    def add_to(self, commands: argparse._SubParsersAction) -> argparse.ArgumentParser:  # noqa: SLF001 - no public type
        """Add the command to `atelier`'s sub-commands."""
        return self._fill(commands.add_parser(self.name, help=self.help, **self._texts()))

    def main(self, argv: list[str] | None = None) -> int:
        """Run the command alone (a job file's entry point), parsed and answered as `atelier <name>` would."""
        return run_parsed(self._fill(argparse.ArgumentParser(prog=f"atelier {self.name}", **self._texts())), argv)

    def _texts(self) -> dict[str, Any]:
        """The parser's description and example (the keywords of an ArgumentParser)."""
        return {
            "description": self.help,
            "epilog": f"example:\n  atelier {self.name} {self.example}",
            "formatter_class": argparse.RawDescriptionHelpFormatter,
        }

    def _fill(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        """Give `parser` the command's arguments (configuration first) and its run function as `fn`."""
        parser.set_defaults(fn=self.run)
        runtime.add_config_args(parser)
        self.add_arguments(parser)
        return parser


def run_parsed(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse `argv` and run the chosen command through runtime.run_main (errors as one line and an exit status)."""

    def run(args_list: list[str] | None) -> None:
        try:
            args = parser.parse_args(args_list)
        except SystemExit as stop:  # argparse refused the arguments (its usage and error are on stderr)
            if stop.code == EXIT_REFUSED:
                outcome.record(EXIT_REFUSED, f"{parser.prog}: the arguments were refused (usage above in the log)")
            raise
        args.fn(args)

    return runtime.run_main(run, argv)


def format_table(header: list[str], rows: Sequence[tuple[str, ...]]) -> str:
    """Rows as aligned text columns under a header, with the row count."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows), f"({len(rows)} rows)"])
