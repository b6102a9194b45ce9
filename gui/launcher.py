"""The ``mlsys-studio`` entry point: headless commands go to core.cli.parser; no command
opens the app (Qt imported only then)."""

from __future__ import annotations

import sys

from core.cli.parser import main as cli_main
from core.common.errors import MlsysError


def launch_app(args) -> int:
    try:
        from gui.app import run_app
    except ImportError as exc:
        raise MlsysError(f"the desktop app cannot start: {exc}") from None
    return run_app(args)


def main(argv: list[str] | None = None) -> int:
    return cli_main(argv, launch_app=launch_app)


if __name__ == "__main__":
    sys.exit(main())
