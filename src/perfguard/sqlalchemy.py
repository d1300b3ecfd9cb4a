"""SQLAlchemy: one operation per statement fingerprint, timed at the cursor.

    import perfguard.sqlalchemy
    perfguard.sqlalchemy.instrument(engine, tracker)      # an Engine or an AsyncEngine

Each statement the engine sends is timed from `before_cursor_execute` to
`after_cursor_execute` (the driver's execute; fetching rows afterwards is not included)
with the tracker's monotonic clock; an error the driver raises (`handle_error`) is a
failure, its type in the metadata (`{"error": "IntegrityError",
"driver_error": "UniqueViolation"}`). An `executemany` (a list of parameter sets) is one
call. An `AsyncEngine` is instrumented through its `sync_engine`, where its events run.

The name is the statement's fingerprint (`fingerprint()`), so that it is bounded by the
queries the code contains, never by the values it sends:

- literals (strings, numbers) and bound parameters of every paramstyle (`?`, `%s`,
  `%(name)s`, `:name`, `$1`) become `?`; a cast of a parameter (`$1::INTEGER`) is dropped;
- a list of them becomes one (`IN (?, ?, ?)` → `IN (?)`), and so do repeated row tuples
  (`VALUES (?, ?), (?, ?)` → `VALUES (?)`);
- the column list of each SELECT is dropped (`SELECT users.id, users.name FROM users
  WHERE users.id = ?` → `SELECT FROM users WHERE users.id = ?`): tables, joins and
  conditions say which query it is, the columns an ORM lists make names long;
- comments go, whitespace becomes one space (none inside parentheses), case is kept,
  a trailing `;` goes, and the result is cut at 200 characters.

At most `max_names` distinct names per engine (default 500, the number of operations the
Prometheus collector exports); statements past it share one operation, `OVERFLOW_NAME`,
and are counted in `overflow_count` (a generated temporary table name, say, cannot mint
operations without end). `name=` takes a callable `statement -> str` instead of the
fingerprint (still capped). Nothing perfguard does raises into a query: an error while
recording is logged once. `uninstrument()` removes the listeners. Requires
`perfguard[sqlalchemy]`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from ._errors import ConfigurationError
from ._tracker import PerformanceTracker

logger = logging.getLogger("perfguard")
OVERFLOW_NAME = "SQL <other statements>"
MAX_NAMES = 500
MAX_LENGTH = 200
_CACHE_SIZE = 4096  # statement text -> name, cleared when full
_START = "_perfguard_started"  # attribute set on SQLAlchemy's execution context

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|--[^\n]*|/\*.*?\*/)
  | (?P<literal>(?:[EeNnXxBb]|[Uu]&)?'(?:[^']|'')*'
               |\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$
               |0[xX][0-9A-Fa-f]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<ident>"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\])
  | (?P<cast>::)
  | (?P<param>\?|%\([^)]*\)s|%s|\$\d+|:[^\W\d]\w*)
  | (?P<word>[^\W\d][\w$]*)
  | (?P<punct><=|>=|<>|!=|\|\||\S)
    """,
    re.VERBOSE | re.DOTALL,
)
_ENDS_SELECT_LIST = frozenset({"UNION", "INTERSECT", "EXCEPT", ";"})


def _tokens(statement: str) -> list[tuple[str, str, bool]]:
    """(kind, text, spaced): kind 'param' for literals and parameters alike; spaced when
    whitespace or a comment came before the token."""
    tokens: list[tuple[str, str, bool]] = []
    spaced = False
    for match in _TOKEN.finditer(statement):
        kind = match.lastgroup if match.lastgroup != "tag" else "literal"
        if kind == "space":
            spaced = True
            continue
        if kind in ("literal", "param"):
            tokens.append(("param", "?", spaced))
        else:
            tokens.append((kind or "punct", match.group(), spaced))
        spaced = False
    return tokens


def _from_of_select(tokens: list[tuple[str, str, bool]], start: int) -> int | None:
    """The index of the FROM that ends the select list beginning at `start`, if any."""
    depth = 0
    for index in range(start, len(tokens)):
        kind, text, _ = tokens[index]
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
            if depth < 0:
                return None
        elif depth == 0 and (text.upper() in _ENDS_SELECT_LIST):
            return None
        elif depth == 0 and kind == "word" and text.upper() == "FROM":
            return index
    return None


def _shape(tokens: list[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        kind, text, _ = token
        index += 1
        if kind == "cast" and out and out[-1][1] == "?":
            index += 1  # the type name of a parameter's cast
            while index < len(tokens) and tokens[index][1] in "[]":
                index += 1
            continue
        if text == "?" and len(out) >= 2 and out[-1][1] == "," and out[-2][1] == "?":
            out.pop()  # "?, ?" -> "?"
            continue
        out.append(token)
        if text == ")" and len(out) >= 7 and [t[1] for t in out[-7:]] == list("(?),(?)"):
            del out[-4:]  # "(?), (?)" -> "(?)"
        if kind == "word" and text.upper() == "SELECT":
            if index < len(tokens) and tokens[index][1].upper() in ("DISTINCT", "ALL"):
                out.append(tokens[index])
                index += 1
            end = _from_of_select(tokens, index)
            if end is not None:
                index = end
    return out


def fingerprint(statement: str) -> str:
    """The statement's bounded name (rules in the module doc)."""
    tokens = _shape(_tokens(statement))
    while tokens and tokens[-1][1] == ";":
        tokens.pop()
    parts: list[str] = []
    previous = ""
    for _, text, spaced in tokens:
        tight = previous in ("(", ".", "::") or text in (")", ",", ".", "::")
        if parts and spaced and not tight:
            parts.append(" ")
        parts.append(text)
        previous = text
    name = "".join(parts)
    if len(name) > MAX_LENGTH:
        name = name[: MAX_LENGTH - 4].rstrip() + " ..."
    return name or "SQL"


class SQLAlchemyInstrumentation:
    """The listeners on one engine; `uninstrument()` removes them."""

    def __init__(
        self,
        engine: Engine,
        tracker: PerformanceTracker,
        name: Callable[[str], str],
        max_names: int,
    ) -> None:
        self.engine = engine
        self.tracker = tracker
        self.max_names = max_names
        self.overflow_count = 0  # calls recorded under OVERFLOW_NAME
        self._name = name
        self._perf = tracker.clock.perf
        self._names: dict[str, str] = {}  # statement -> name (bounded cache)
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self._warned = False
        self._overflowed = False
        self._listeners: list[tuple[str, Callable[..., None]]] = [
            ("before_cursor_execute", self._before),
            ("after_cursor_execute", self._after),
            ("handle_error", self._error),
        ]
        for identifier, listener in self._listeners:
            event.listen(engine, identifier, listener)

    def uninstrument(self) -> None:
        for identifier, listener in self._listeners:
            if event.contains(self.engine, identifier, listener):
                event.remove(self.engine, identifier, listener)

    def name_of(self, statement: str) -> str:
        """The operation a statement is recorded under (after the cap)."""
        name = self._names.get(statement)
        if name is not None:
            return name
        name = self._name(statement)
        with self._lock:
            if name not in self._known:
                if len(self._known) >= self.max_names:
                    name = OVERFLOW_NAME
                    self._warn_overflow()
                else:
                    self._known.add(name)
            if len(self._names) >= _CACHE_SIZE:
                self._names.clear()
            self._names[statement] = name
        return name

    def _before(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        try:
            if context is not None:
                setattr(context, _START, self._perf())
            else:
                conn.info.setdefault(_START, []).append(self._perf())
        except Exception:
            self._warn_once()

    def _after(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        try:
            start = _take_start(conn, context)
            if start is not None:
                self._record(statement, self._perf() - start, None)
        except Exception:
            self._warn_once()

    def _error(self, exception_context: Any) -> None:
        try:
            start = _take_start(exception_context.connection, exception_context.execution_context)
            statement = exception_context.statement
            if start is not None and isinstance(statement, str):
                self._record(statement, self._perf() - start, _error_of(exception_context))
        except Exception:
            self._warn_once()

    def _record(self, statement: str, duration: float, error: dict[str, str] | None) -> None:
        name = self.name_of(statement)
        if name == OVERFLOW_NAME:
            self.overflow_count += 1
        self.tracker.record(name, max(0.0, duration), success=error is None, metadata=error)

    def _warn_overflow(self) -> None:
        if not self._overflowed:
            self._overflowed = True
            logger.warning(
                "perfguard SQLAlchemy: more than %d distinct statements on %s; further "
                "ones are recorded as %r",
                self.max_names,
                self.engine.url.render_as_string(hide_password=True),
                OVERFLOW_NAME,
            )

    def _warn_once(self) -> None:
        if not self._warned:
            self._warned = True
            logger.exception("perfguard could not time a SQL statement (reported once)")


def _error_of(exception_context: Any) -> dict[str, str]:
    """SQLAlchemy's class of the error (the same for every driver), and the driver's."""
    original = exception_context.original_exception
    wrapped = exception_context.sqlalchemy_exception
    error = {"error": type(wrapped if wrapped is not None else original).__name__}
    if wrapped is not None:
        error["driver_error"] = type(original).__name__
    return error


def _take_start(conn: Any, context: Any) -> float | None:
    if context is not None:
        start = getattr(context, _START, None)
        if start is not None:
            delattr(context, _START)  # a later handle_error must not record it again
        return start if isinstance(start, float) else None
    stack = conn.info.get(_START) if conn is not None else None
    return stack.pop() if stack else None


def instrument(
    engine: Any,
    tracker: PerformanceTracker,
    *,
    name: Callable[[str], str] | None = None,
    max_names: int = MAX_NAMES,
) -> SQLAlchemyInstrumentation:
    """Times every statement `engine` (an Engine or AsyncEngine) sends; see the module doc."""
    sync_engine = getattr(engine, "sync_engine", engine)  # AsyncEngine -> its Engine
    if not isinstance(sync_engine, Engine):
        raise ConfigurationError("engine", engine, "a sqlalchemy Engine or AsyncEngine")
    if not isinstance(tracker, PerformanceTracker):
        raise ConfigurationError("tracker", tracker, "a perfguard.PerformanceTracker")
    if name is not None and not callable(name):
        raise ConfigurationError("name", name, "a callable taking the statement, or None")
    if type(max_names) is not int or max_names < 1:
        raise ConfigurationError("max_names", max_names, "an int >= 1")
    return SQLAlchemyInstrumentation(sync_engine, tracker, name or fingerprint, max_names)


__all__ = [
    "MAX_NAMES",
    "OVERFLOW_NAME",
    "SQLAlchemyInstrumentation",
    "fingerprint",
    "instrument",
]
