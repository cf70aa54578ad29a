"""The command line of a script: its whole docstring as ``--help``, and the common options."""

from __future__ import annotations

import argparse
from pathlib import Path


def script_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose ``--help`` prints the script's docstring as written (line breaks kept)."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_out(parser: argparse.ArgumentParser, default: str = "out") -> None:
    """``--out FOLDER`` (a Path; created when the script writes)."""
    parser.add_argument("--out", type=Path, default=Path(default),
                        help=f"folder for the netCDF, PNG and text outputs (default {default}/)")
