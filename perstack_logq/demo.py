"""The sample store behind ``perstack log demo`` and the README's first command."""

from __future__ import annotations

from pathlib import Path

from perstack_logq.errors import UsageError

# Written beside jobs/ so a second `demo` reuses its own store and never touches a real one.
SAMPLE_MARKER = ".perstack-logq-sample"


def ensure_sample_store(directory: Path, *, jobs: int, seed: int) -> bool:
    """Generate a sample store in ``directory`` unless it already holds one; True if made now."""
    from perstack_logq.synth import DirectoryWriter, generate_store

    marker = directory / SAMPLE_MARKER
    if (directory / "jobs").exists():
        if marker.exists():
            return False
        raise UsageError(
            f"{directory} already holds a store that perstack-logq did not generate; "
            "choose another --directory (the demo never writes into a real store)"
        )
    try:
        generate_store(DirectoryWriter(directory), jobs=jobs, seed=seed)
        marker.write_text(f"jobs={jobs} seed={seed}\n", encoding="utf-8")
    except OSError as exc:  # a directory that cannot be made or written (/proc/x, a file, ...)
        reason = exc.strerror or type(exc).__name__
        where = exc.filename if exc.filename else directory
        raise UsageError(
            f"Cannot write the sample store to {directory} (--directory): {reason}: {where}"
        ) from None
    return True
