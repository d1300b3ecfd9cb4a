"""The file formats: strict JSON objects with a schema name, version and checksum; the
baseline document; the sketch entry every shared store writes.

One reader for every perfguard file: `json_object` (strict JSON, no NaN), then
`check_schema` (another schema is corrupt, a newer version is refused untouched).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import zlib
from collections.abc import Mapping
from typing import Any

from .._baseline import Baseline
from .._clock import SYSTEM_CLOCK
from .._errors import IncompatibleStorageError
from .._sketch import LogSketch, SketchDelta, SketchError

SCHEMA_NAME = "perfguard.baselines"
SCHEMA_VERSION = 2  # 2 added the checksum; version 1 files are read and migrated


class CorruptFileError(ValueError):
    """The file's content is not a perfguard file of a known schema."""


# -- any perfguard file --------------------------------------------------------------------


def json_object(raw: bytes) -> dict[str, Any]:
    """Strict JSON (no NaN or Infinity) that must be an object; CorruptFileError (a
    ValueError) says what is wrong."""
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptFileError(f"is not valid JSON ({type(exc).__name__}: {exc})") from exc
    if not isinstance(document, dict):
        raise CorruptFileError("is not a JSON object")
    return document


def check_schema(document: Mapping[str, Any], schema: str, newest: int, source: str) -> int:
    """The document's schema version: CorruptFileError for another schema or an invalid
    version, IncompatibleStorageError (file left untouched) for a newer one."""
    if document.get("schema") != schema:
        raise CorruptFileError(f"is not a {schema} file")
    version = document.get("version")
    if type(version) is not int or version < 1:
        raise CorruptFileError(f"has an invalid schema version {version!r}")
    if version > newest:
        raise IncompatibleStorageError(
            source,
            f"schema version {version} is newer than this perfguard understands "
            f"({newest}); upgrade perfguard. The file was left untouched.",
        )
    return version


def checksum_of(operations: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the operations (key order and spacing fixed)."""
    canonical = json.dumps(operations, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def checked_operations(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document's 'operations' object, verified against its checksum."""
    operations = document.get("operations")
    if not isinstance(operations, dict):
        raise CorruptFileError("has no 'operations' object")
    try:
        expected = checksum_of(operations)
    except ValueError:  # a number out of range (1e400 parses as inf)
        raise CorruptFileError("holds a number out of range") from None
    if document.get("checksum") != expected:
        raise CorruptFileError("fails its checksum (edited by hand or damaged)")
    return operations


def _reject_constant(token: str) -> float:
    raise ValueError(f"non-standard JSON constant {token}")


# -- the baseline document (JsonFileStore, `perfguard show`) -------------------------------


def render_document(
    baselines: Mapping[str, Baseline],
    *,
    compressed: bool = False,
    contributions: Mapping[str, Any] | None = None,
) -> bytes:
    """The baseline document; `contributions` (several processes sharing the file, see
    contributions.py) go in an optional section with a checksum of its own, which
    readers that predate it ignore: `operations` always holds the combined baselines."""
    operations = {name: baselines[name].to_dict() for name in sorted(baselines)}
    document: dict[str, Any] = {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "saved_at": SYSTEM_CLOCK.wall(),
        "operations": operations,
        "checksum": checksum_of(operations),
    }
    if contributions:
        # one JSON text inside the document, its checksum taken on that text: the
        # section of 16 processes x 1,000 operations is serialized once, not three times
        text = json.dumps(
            contributions, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=True
        )
        document["contributions"] = text
        document["contributions_checksum"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    # ensure_ascii: any operation name, lone surrogates included, becomes valid JSON text
    text = json.dumps(document, allow_nan=False, separators=(",", ":"), ensure_ascii=True)
    data = text.encode("utf-8")
    return gzip.compress(data, compresslevel=6, mtime=0) if compressed else data


def parse_document(raw: bytes, *, compressed: bool, source: str) -> dict[str, Baseline]:
    """Validate a baseline document; CorruptFileError says what is wrong."""
    return parse_shared_document(raw, compressed=compressed, source=source)[0]


def parse_shared_document(
    raw: bytes, *, compressed: bool, source: str
) -> tuple[dict[str, Baseline], dict[str, Any]]:
    """The baselines and the raw (checksum-verified) contributions section, {} when the
    file has none."""
    if compressed or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise CorruptFileError(f"is not valid gzip ({exc})") from exc
    document = json_object(raw)
    version = check_schema(document, SCHEMA_NAME, SCHEMA_VERSION, source)
    if version >= 2:
        operations = checked_operations(document)
    else:
        unchecked = document.get("operations")
        if not isinstance(unchecked, dict):
            raise CorruptFileError("has no 'operations' object")
        operations = unchecked
    result: dict[str, Baseline] = {}
    for name, raw_baseline in operations.items():
        if not name:
            raise CorruptFileError("has an operation with an empty name")
        try:
            result[name] = Baseline.from_dict(raw_baseline)
        except ValueError as exc:
            raise CorruptFileError(f"has an invalid baseline for {name!r}: {exc}") from exc
    text = document.get("contributions")
    if text is None:
        return result, {}
    if not isinstance(text, str):
        raise CorruptFileError("has an invalid 'contributions' section")
    if document.get("contributions_checksum") != hashlib.sha256(text.encode("utf-8")).hexdigest():
        raise CorruptFileError("fails its contributions checksum (edited by hand or damaged)")
    return result, json_object(text.encode("utf-8"))


# -- sketches (shards, the combined file, Redis) -------------------------------------------


def entry_dict(delta: SketchDelta) -> dict[str, Any]:
    return {
        "sketch": delta.sketch.to_dict(),
        "failures": delta.failures,
        "last_seen_at": delta.last_seen_at,
    }


def delta_of(name: object, raw: object) -> SketchDelta:
    if not isinstance(name, str) or not name:
        raise ValueError(f"has an invalid operation name {name!r}")
    if not isinstance(raw, dict):
        raise ValueError(f"has an invalid entry for {name!r}")
    failures = raw.get("failures")
    if type(failures) is not int or failures < 0:
        raise ValueError(f"has an invalid failure count for {name!r}: {failures!r}")
    try:
        sketch = LogSketch.from_dict(raw.get("sketch"))  # type: ignore[arg-type]
    except SketchError as exc:
        raise ValueError(f"has an invalid sketch for {name!r}: {exc}") from exc
    return SketchDelta(sketch, failures, time_field(raw, "last_seen_at"))


def time_field(raw: Mapping[str, Any], name: str) -> float:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"has an invalid {name!r}: {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"has an invalid {name!r}: {value!r}")
    return number


def baseline_from_sketch(
    sketch: LogSketch,
    failures: int,
    *,
    established_at: float,
    updated_at: float,
    last_seen_at: float,
) -> Baseline:
    """A baseline from merged sketches: percentiles within the sketch's relative error,
    mean and std exact (Chan's formula), error rate exact."""
    p25, p50, p75 = (sketch.quantile(q) for q in (0.25, 0.5, 0.75))
    log_scale = (math.log(p75) - math.log(p25)) / 1.349 if p25 > 0 else 0.0
    return Baseline(
        p50=p50,
        p75=p75,
        p95=sketch.quantile(0.95),
        p99=sketch.quantile(0.99),
        mean=sketch.mean,
        std=math.sqrt(sketch.variance),
        sample_count=sketch.count,
        error_rate=failures / (sketch.count + failures),
        log_scale=log_scale,
        established_at=established_at,
        updated_at=updated_at,
        last_seen_at=last_seen_at,
    )
