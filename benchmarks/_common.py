"""What every benchmark script shares: the allocator it ran with, the re-execution with
genrelens' malloc settings, and printing the JSON record and the table."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any


def allocator() -> str:
    """Describe the allocator this process runs with (stated in every record)."""
    from genrelens.cli import MALLOC_ENV

    preload = os.environ.get("LD_PRELOAD", "")
    if "tcmalloc" in preload:
        return f"tcmalloc (LD_PRELOAD={preload})"
    if all(os.environ.get(k) == v for k, v in MALLOC_ENV.items()):
        return "glibc malloc with MALLOC_ENV " + " ".join(f"{k}={v}" for k, v in MALLOC_ENV.items())
    return "glibc malloc, default settings"


def ensure_malloc_env(*, default_malloc: bool) -> None:
    """Re-execute this script once with genrelens.cli.MALLOC_ENV set, unless ``default_malloc``."""
    from genrelens.cli import MALLOC_ENV

    if not default_malloc and any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})


def emit(record: dict[str, Any], *, table: Callable[[dict[str, Any]], str], json_path: str | None) -> int:
    """Write the JSON record to ``json_path`` (atomically) or stdout, the table to stderr."""
    text = json.dumps(record, indent=2, default=lambda o: o.tolist())
    if json_path:
        from genrelens._io import write_text

        write_text(json_path, text + "\n")
    else:
        print(text)
    print(table(record), file=sys.stderr)
    return 0
