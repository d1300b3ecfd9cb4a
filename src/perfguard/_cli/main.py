"""The `perfguard` command line: `demo`, `show`, `combine`, `check` and `report`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._errors import PerfguardError
from .._stores.formats import CorruptFileError, json_object, parse_document
from .._stores.shards import COMBINED_SCHEMA, ShardStore, combined_baselines
from .._version import __version__
from .demo import run_demo
from .html import render_html
from .tables import baselines_table


def _schema_of(raw: bytes) -> object:
    """The document's declared schema (None when it is not a readable JSON object)."""
    try:
        return json_object(raw).get("schema")
    except ValueError:
        return None


def _show(path: Path, as_json: bool) -> int:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        print(f"perfguard show: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        if _schema_of(raw) == COMBINED_SCHEMA:
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


def _read_report(path: Path, command: str) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"perfguard {command}: cannot read report {path}: {exc}", file=sys.stderr)
        return None
    if not isinstance(document, dict) or document.get("schema") != "perfguard.report":
        print(
            f"perfguard {command}: {path} is not a perfguard report "
            "(write one with tracker.write_report(path))",
            file=sys.stderr,
        )
        return None
    problem = _report_problem(document)
    if problem is not None:
        print(f"perfguard {command}: {path} is a damaged report: {problem}", file=sys.stderr)
        return None
    return document


_STATES = ("learning", "ok", "degraded", "idle")


def _report_problem(document: Mapping[str, Any]) -> str | None:
    """What makes a report unusable (None: nothing): the fields check and report read."""
    operations = document.get("operations")
    if not isinstance(operations, dict):
        return "'operations' is not an object"
    for name, stats in operations.items():
        if not isinstance(stats, dict):
            return f"operation {name!r} is not an object"
        if stats.get("state") not in _STATES:
            return f"operation {name!r} has the state {stats.get('state')!r}"
        events = stats.get("events", [])
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            return f"operation {name!r} has events that are not a list of objects"
        if not isinstance(stats.get("degraded_signals", []), list):
            return f"operation {name!r} has degraded_signals that are not a list"
    return None


def _check(path: Path, as_json: bool) -> int:
    """Exit status for CI: 0 every operation ok, 1 some degraded, 2 error."""
    document = _read_report(path, "check")
    if document is None:
        return 2
    operations = document["operations"]
    # an operation that went idle during an episode is still degraded underneath
    degraded = sorted(
        n
        for n, s in operations.items()
        if s.get("state") == "degraded" or (s.get("state") == "idle" and s.get("degraded_signals"))
    )
    if as_json:
        print(json.dumps({"degraded": degraded, "operations": len(operations)}, indent=2))
    elif degraded:
        print(f"{len(degraded)} of {len(operations)} operation(s) degraded:")
        for name in degraded:
            events = operations[name].get("events") or [{}]
            print(f"  {name}: {events[-1].get('summary', 'degraded')}")
    else:
        print(f"all {len(operations)} operation(s) ok")
    return 1 if degraded else 0


def _html(path: Path, output: Path, as_json: bool) -> int:
    document = _read_report(path, "report")
    if document is None:
        return 2
    # a lone surrogate in an operation name has no UTF-8 form: shown as U+FFFD
    page = render_html(document).encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    output.write_text(page, encoding="utf-8")
    if as_json:
        print(json.dumps({"output": str(output), "operations": len(document["operations"])}))
    else:
        print(f"wrote {output} ({len(document['operations'])} operation(s))")
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
    demo.add_argument(
        "--report",
        type=Path,
        default=None,
        help="also write a JSON report and its HTML page (REPORT.html)",
    )
    combine = commands.add_parser(
        "combine", help="merge the shards of a multi-process store folder into its baselines"
    )
    combine.add_argument("folder", type=Path)
    combine.add_argument("--json", action="store_true", help="machine-readable output")
    check = commands.add_parser(
        "check", help="exit 0 if every operation in a report is ok, 1 if one is degraded"
    )
    check.add_argument("report", type=Path, help="a JSON report (tracker.write_report)")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    report = commands.add_parser("report", help="render a JSON report as one HTML page")
    report.add_argument("report", type=Path, help="a JSON report (tracker.write_report)")
    report.add_argument("-o", "--output", type=Path, default=Path("perfguard-report.html"))
    report.add_argument("--json", action="store_true", help="machine-readable output")
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
        status = run_demo(args.output, seconds=args.seconds, seed=args.seed, report=args.report)
        if status == 0 and args.report is not None:
            return _html(args.report, args.report.with_suffix(".html"), False)
        return status
    if args.command == "show":
        return _show(args.file, args.json)
    if args.command == "combine":
        return _combine(args.folder, args.json)
    if args.command == "check":
        return _check(args.report, args.json)
    if args.command == "report":
        return _html(args.report, args.output, args.json)
    return 2  # unreachable: argparse requires a command
