"""The spelling of an operation name outside Python: valid UTF-8 whatever the name holds.

A name may carry a lone surrogate (bytes decoded with `surrogateescape`, a path from a
filesystem in another encoding). Prometheus' text format and OpenTelemetry's protobuf
exporters encode UTF-8 and fail on it, taking the whole scrape or export down. The
surrogate becomes its escape (\\udc80), the same spelling every time.
"""

from __future__ import annotations


def exportable(name: str) -> str:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return name
