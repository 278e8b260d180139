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
    generate_store(DirectoryWriter(directory), jobs=jobs, seed=seed)
    marker.write_text(f"jobs={jobs} seed={seed}\n", encoding="utf-8")
    return True
