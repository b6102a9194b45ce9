"""The ``mlsys-studio`` command line: the parser (each command group adds its commands)
and ``main``, which runs a command or, with none, opens the app.

Errors print one line on stderr and exit with status 2; no traceback (set
MLSYS_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import os
import sys

from core.common.errors import InputError, MlsysError, printable

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message: str):
        raise InputError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlsys-studio", description="MLSys Studio: neural networks from the "
                                                      "systems side. With no command, opens "
                                                      "the app.")
    parser.add_argument("--screenshot", metavar="FILE", help="render the main window to a PNG "
                                                             "offscreen and exit")
    parser.add_argument("--preset", help="preset to open in the app (with --screenshot too)")
    parser.add_argument("--workspace", help="workspace to show (with --screenshot)")
    parser.add_argument("--size", metavar="WxH", help="window size for --screenshot, e.g. "
                                                      "1280x720 (default 1500x950)")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    for register in _command_groups():
        register(sub)
    return parser


def _command_groups():
    """Each command group's ``register(subparsers)``, in the order --help lists them."""
    from core.cli import (dataflow, design, experiment, export, pipeline, profile, runs, train,
                          transformer)
    return (design.register, export.register, train.register, runs.register,
            dataflow.register, pipeline.register, experiment.register, profile.register,
            transformer.register)


# ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None, launch_app=None) -> int:
    """Run a command; with none, ``launch_app(args)`` opens the app (the GUI package passes
    it in, so the engine never imports Qt)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            if launch_app is None:
                raise MlsysError("no command given (see --help); the app starts from the "
                                 "mlsys-studio launcher")
            return launch_app(args)
        return args.func(args)
    except MlsysError as exc:
        print(f"mlsys-studio: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: still one line unless debugging
        if os.environ.get("MLSYS_DEBUG"):
            raise
        print(f"mlsys-studio: internal error: {type(exc).__name__}: {printable(str(exc))} "
              f"(set MLSYS_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
