"""`eligo prescreen` (being built)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register the command on the `eligo` command's subparsers."""


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
