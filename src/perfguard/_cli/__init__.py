"""The `perfguard` command: its commands, text tables, HTML page and demo, in one place."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
