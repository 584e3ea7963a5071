"""The ``nuisance-zoo`` command line: a thin face over the Python API.

Each sub-command lives in its own module here and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` (called with the parsed arguments, returning an exit code).
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Module names under nuisance_zoo.cli, in the order ``--help`` lists them.
COMMANDS = ("list_cmd", "info_cmd", "grid_cmd", "demo_cmd", "train_cmd", "evaluate_cmd", "fit_cmd", "publish_cmd")


def build_parser() -> argparse.ArgumentParser:
    from ..version import __version__

    parser = argparse.ArgumentParser(
        prog="nuisance-zoo",
        description="Models of natural variation G(x, δ) and model-based robust training.",
    )
    parser.add_argument("--version", action="version", version=f"nuisance-zoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, KeyError, FileNotFoundError, RuntimeError) as e:
        # Users get the message, not a traceback; NUISANCE_ZOO_DEBUG=1 shows the traceback.
        import os

        if os.environ.get("NUISANCE_ZOO_DEBUG"):
            raise
        print(f"nuisance-zoo {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
