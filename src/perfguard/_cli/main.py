"""The `perfguard` command line: `demo`, `combine`, and over any store or report
`show`, `check`, `report` and `top` (commands.py, top.py; targets.py reads them).

Output goes through a buffer printed at the end: a reader closing the pipe early
(`perfguard show … --json | head`) ends the command quietly with its status.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .._errors import PerfguardError
from .._stores.shards import ShardStore
from .._version import __version__
from . import commands
from .demo import run_demo
from .top import top


def _progress_printer(label: str) -> Callable[[int, int], None]:
    """Progress on stderr for long runs (a line every 10 %, only past 200 items)."""

    def show(done: int, total: int) -> None:
        if total >= 200 and (done == total or done % max(1, total // 10) == 0):
            print(f"{label}: {done}/{total}", file=sys.stderr, flush=True)

    return show


def _combine(folder: Path, as_json: bool) -> int:
    if not folder.is_dir():
        print(f"perfguard combine: {folder} is not a folder", file=sys.stderr)
        return 2
    try:
        report = ShardStore(folder).combine(progress=_progress_printer("combining shards"))
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


TARGETS_HELP = "a baseline file (.json, .json.gz), a shard folder, a redis:// URL or a report file"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perfguard", description="Performance baselines and degradation alerts."
    )
    parser.add_argument("--version", action="version", version=f"perfguard {__version__}")
    commands_ = parser.add_subparsers(dest="command", required=True)
    demo = commands_.add_parser("demo", help="simulate a service, inject a slowdown, watch")
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
    demo.add_argument(
        "--report",
        type=Path,
        default=None,
        help="also write a JSON report and its HTML page (REPORT.html)",
    )
    combine = commands_.add_parser(
        "combine", help="merge the shards of a multi-process store folder into its baselines"
    )
    combine.add_argument("folder", type=Path)
    combine.add_argument("--json", action="store_true", help="machine-readable output")
    show = commands_.add_parser("show", help="print the operations and baselines of targets")
    show.add_argument("targets", nargs="+", metavar="TARGET", help=TARGETS_HELP)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    check = commands_.add_parser(
        "check", help="exit 0 if every operation is ok, 1 if one is degraded, 2 on an error"
    )
    check.add_argument("targets", nargs="+", metavar="TARGET", help=TARGETS_HELP)
    check.add_argument("--json", action="store_true", help="machine-readable output")
    report = commands_.add_parser(
        "report", help="one HTML page; several targets (runs) add their trend"
    )
    report.add_argument("targets", nargs="+", metavar="TARGET", help=TARGETS_HELP)
    report.add_argument("-o", "--output", type=Path, default=Path("perfguard-report.html"))
    report.add_argument("--json", action="store_true", help="machine-readable output")
    live = commands_.add_parser("top", help="a live table of a target, refreshed every second")
    live.add_argument("target", metavar="TARGET", help=TARGETS_HELP)
    live.add_argument("--once", action="store_true", help="print one frame and exit")
    live.add_argument("--interval", type=float, default=1.0, help="seconds between frames")
    live.add_argument("--json", action="store_true", help="one frame as JSON (implies --once)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = io.StringIO()
    status = 2
    try:
        status = _run(args, out)
        sys.stdout.write(out.getvalue())
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except KeyboardInterrupt:
        return 130
    return status


def _run(args: argparse.Namespace, out: io.StringIO) -> int:
    if args.command == "demo":
        if not 0 <= args.seconds <= 60:
            print("perfguard demo: --seconds must be between 0 and 60", file=sys.stderr)
            return 2
        status = run_demo(args.output, seconds=args.seconds, seed=args.seed, report=args.report)
        if status == 0 and args.report is not None:
            html_page = args.report.with_suffix(".html")
            return commands.report([str(args.report)], html_page, False, sys.stdout)
        return status
    if args.command == "show":
        return commands.show(args.targets, args.json, out)
    if args.command == "combine":
        return _combine(args.folder, args.json)
    if args.command == "check":
        return commands.check(args.targets, args.json, out)
    if args.command == "report":
        return commands.report(args.targets, args.output, args.json, out)
    if args.command == "top":
        return top(args.target, once=args.once or args.json, interval=args.interval,
                   as_json=args.json)  # fmt: skip
    return 2  # unreachable: argparse requires a command


def _silence_stdout() -> None:
    """After a closed pipe: stdout to /dev/null, so the flush at exit raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass
