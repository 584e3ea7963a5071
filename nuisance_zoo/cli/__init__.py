"""The ``nuisance-zoo`` command line: a thin face over the Python API.

Each sub-command lives in its own module here and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` (called with the parsed arguments, returning an exit code).
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Module names under nuisance_zoo.cli, in the order ``--help`` lists them.
COMMANDS = ("list_cmd", "info_cmd", "grid_cmd", "demo_cmd", "train_cmd", "evaluate_cmd", "fit_cmd", "publish_cmd", "reproduce_cmd")


def build_parser() -> argparse.ArgumentParser:
    from ..version import __version__

    parser = argparse.ArgumentParser(
        prog="nuisance-zoo",
        description="Models of natural variation G(x, δ) and model-based robust training.",
    )
    parser.add_argument("--version", action="version", version=f"nuisance-zoo {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error (also NUISANCE_ZOO_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error prints one line (no traceback) and returns a nonzero status.

    ``--debug`` (or the environment variable ``NUISANCE_ZOO_DEBUG=1``) re-raises instead, to show
    the traceback.
    """
    import os

    from .errors import describe

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as e:  # noqa: BLE001 -- every error becomes one line; --debug shows the rest
        if args.debug or os.environ.get("NUISANCE_ZOO_DEBUG"):
            raise
        message, status = describe(e)
    except KeyboardInterrupt as e:
        if args.debug:
            raise
        message, status = describe(e)
    print(f"nuisance-zoo {args.command}: error: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
