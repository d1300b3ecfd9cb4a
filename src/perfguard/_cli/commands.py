"""`perfguard show|check|report TARGET…`: the same view of any store or report.

Each command writes to the `out` stream it is given and returns its exit status; main()
prints it, so a reader that closes the pipe early (`| head`) costs no traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .html import render_html
from .tables import baselines_table, operations_table
from .targets import TargetError, View, open_target


def open_all(targets: Sequence[str], command: str) -> list[View] | None:
    """Every target's view, or None after one line on stderr per target that failed."""
    views, failed = [], False
    for target in targets:
        try:
            views.append(open_target(target))
        except TargetError as exc:
            print(f"perfguard {command}: {exc}", file=sys.stderr)
            failed = True
    return None if failed else views


def show(targets: Sequence[str], as_json: bool, out: TextIO) -> int:
    views = open_all(targets, "show")
    if views is None:
        return 2
    if as_json:
        documents = {view.source: _show_document(view) for view in views}
        single = documents[views[0].source] if len(views) == 1 else documents
        print(json.dumps(single, indent=2, ensure_ascii=False, default=repr), file=out)
        return 0
    for number, view in enumerate(views):
        if number:
            print(file=out)
        _show_text(view, out)
    return 0


def _show_document(view: View) -> dict[str, Any]:
    """Per operation its baseline's fields (the file's own, as before) and, when the
    target keeps state, the state and the latest figures."""
    result: dict[str, Any] = {}
    baselines = view.baselines or {}
    for name, stats in sorted(view.operations.items()):
        entry: dict[str, Any] = baselines[name].to_dict() if name in baselines else {}
        if view.baselines is None or stats.get("state") != "unknown":
            entry.update(
                state=stats.get("state"),
                degraded_signals=stats.get("degraded_signals", []),
                calls=stats.get("sample_count"),
                recent_p50=stats.get("recent_p50"),
                recent_p95=stats.get("recent_p95"),
            )
        result[name] = entry
    return result


def _show_text(view: View, out: TextIO) -> None:
    has_state = any(s.get("state") != "unknown" for s in view.operations.values())
    if view.baselines is not None and not view.baselines and not has_state:
        print(f"{view.source}: no baselines", file=out)
        return
    processes = f", {view.processes} process(es) reporting" if view.processes else ""
    print(f"{view.source}: {len(view.operations)} operation(s){processes}\n", file=out)
    if view.baselines:
        print(baselines_table(view.baselines), file=out)
        if has_state:
            print(file=out)
    if has_state or view.baselines is None:
        print(operations_table(view.operations), file=out)
    elif view.baselines:
        print("\n(no state recorded: no tracker has saved its status here yet)", file=out)


def check(targets: Sequence[str], as_json: bool, out: TextIO) -> int:
    """0 every operation ok, 1 some degraded, 2 a target could not be read."""
    views = open_all(targets, "check")
    if views is None:
        return 2
    results = []
    for view in views:
        degraded = view.degraded()
        result: dict[str, Any] = {"degraded": degraded, "operations": len(view.operations)}
        unknown = sum(1 for s in view.operations.values() if s.get("state") == "unknown")
        if unknown:
            result["without_state"] = unknown
        results.append((view, result))
    status = 1 if any(r["degraded"] for _, r in results) else 0
    if as_json:
        if len(results) == 1:
            print(json.dumps(results[0][1], indent=2, ensure_ascii=False), file=out)
        else:
            listed = [{"target": v.source, **r} for v, r in results]
            print(json.dumps({"targets": listed}, indent=2, ensure_ascii=False), file=out)
        return status
    for view, result in results:
        _check_text(view, result, len(results) > 1, out)
    return status


def _check_text(view: View, result: dict[str, Any], named: bool, out: TextIO) -> None:
    prefix = f"{view.source}: " if named else ""
    degraded, total = result["degraded"], result["operations"]
    if degraded:
        print(f"{prefix}{len(degraded)} of {total} operation(s) degraded:", file=out)
        for name in degraded:
            events = view.operations[name].get("events") or [{}]
            last = events[-1] if isinstance(events[-1], dict) else {}
            print(f"  {name}: {last.get('summary', 'degraded')}", file=out)
    else:
        print(f"{prefix}all {total} operation(s) ok", file=out)
    if result.get("without_state"):
        print(
            f"{prefix}{result['without_state']} operation(s) without a recorded state "
            "(a baseline only: no process has saved its state there yet)",
            file=out,
        )


def report(targets: Sequence[str], output: Path, as_json: bool, out: TextIO) -> int:
    views = open_all(targets, "report")
    if views is None:
        return 2
    reports = [view.as_report() for view in views]
    # a lone surrogate in an operation name has no UTF-8 form: shown as U+FFFD
    page = render_html(reports[-1], history=reports if len(reports) > 1 else None)
    page = page.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    try:
        output.write_text(page, encoding="utf-8")
    except OSError as exc:
        print(f"perfguard report: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    operations = len(reports[-1]["operations"])
    if as_json:
        document = {"output": str(output), "operations": operations, "runs": len(reports)}
        print(json.dumps(document), file=out)
    else:
        runs = f", {len(reports)} runs" if len(reports) > 1 else ""
        print(f"wrote {output} ({operations} operation(s){runs})", file=out)
    return 0
