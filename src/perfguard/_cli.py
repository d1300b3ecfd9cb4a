"""The `perfguard` command: `demo` and `show`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ._demo import run_demo
from ._errors import PerfguardError
from ._json_store import CorruptFileError, parse_document
from ._report import baselines_table
from ._shards import COMBINED_SCHEMA, ShardStore, combined_baselines
from ._version import __version__


def _show(path: Path, as_json: bool) -> int:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        print(f"perfguard show: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        if COMBINED_SCHEMA.encode() in raw[:200]:
            baselines = combined_baselines(raw, str(path))
        else:
            baselines = parse_document(raw, compressed=path.name.endswith(".gz"), source=str(path))
    except (CorruptFileError, PerfguardError, ValueError) as exc:
        print(f"perfguard show: {path} {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps({n: b.to_dict() for n, b in sorted(baselines.items())}, indent=2))
        return 0
    if not baselines:
        print(f"{path}: no baselines")
        return 0
    print(f"{path}: {len(baselines)} operation(s)\n")
    print(baselines_table(baselines))
    return 0


def _combine(folder: Path, as_json: bool) -> int:
    if not folder.is_dir():
        print(f"perfguard combine: {folder} is not a folder", file=sys.stderr)
        return 2
    try:
        report = ShardStore(folder).combine()
    except PerfguardError as exc:
        print(f"perfguard combine: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(dataclasses.asdict(report), indent=2))
        return 0
    print(
        f"{folder}: merged {len(report.merged)} shard(s), {len(report.already_merged)} "
        f"already merged, {len(report.quarantined)} quarantined; "
        f"{report.operations} operation(s) in {folder / 'baselines.json'}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perfguard", description="Performance baselines and degradation alerts."
    )
    parser.add_argument("--version", action="version", version=f"perfguard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="simulate a service, inject a slowdown, watch")
    demo.add_argument(
        "--output",
        type=Path,
        default=Path("perfguard-demo-baselines.json"),
        help="where the baselines are written (default: %(default)s)",
    )
    demo.add_argument(
        "--seconds",
        type=float,
        default=4.0,
        help="real time the simulation is paced over (default: %(default)s)",
    )
    demo.add_argument("--seed", type=int, default=7)
    combine = commands.add_parser(
        "combine", help="merge the shards of a multi-process store folder into its baselines"
    )
    combine.add_argument("folder", type=Path)
    combine.add_argument("--json", action="store_true", help="machine-readable output")
    show = commands.add_parser("show", help="print the baselines stored in a file")
    show.add_argument("file", type=Path)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        if not 0 <= args.seconds <= 60:
            print("perfguard demo: --seconds must be between 0 and 60", file=sys.stderr)
            return 2
        return run_demo(args.output, seconds=args.seconds, seed=args.seed)
    if args.command == "show":
        return _show(args.file, args.json)
    if args.command == "combine":
        return _combine(args.folder, args.json)
    return 2  # unreachable: argparse requires a command
