"""Atomic writes and the one way figures and tables leave a notebook.

Every cache, checkpoint and result is written to a temporary name in the same
folder and then renamed, so an interrupted run never leaves a half-written file
behind: readers see the old complete file or the new complete file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

FIGURE_FORMATS = ("png", "pdf")  # every figure, in every profile
TABLE_FORMATS = ("csv", "md")  # the default of a table

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path; on success it is renamed onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes owner-only files
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``path`` as a whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes owner-only folders
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old.{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def savefig(fig, name: str, out_dir: str | os.PathLike, *, dpi: int = 150) -> None:
    """Write ``fig`` as ``<name>.png`` and ``<name>.pdf`` into ``out_dir``.

    Fails loudly (raises) if a file could not be written or came out empty. Returns
    nothing, like ``Figure.savefig``, so that a notebook cell ending in this call shows
    no stray output; the files are ``out_dir / f"{name}.{ext}"`` for ``FIGURE_FORMATS``.
    """
    out_dir = Path(out_dir)
    for ext in FIGURE_FORMATS:
        target = out_dir / f"{name}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight", metadata=_no_dates(ext))
            if tmp.stat().st_size == 0:
                raise OSError(f"figure {target} came out empty")


def _no_dates(ext: str) -> dict:
    # Stable bytes for the same figure: no creation date in PDF metadata.
    return {"CreationDate": None} if ext == "pdf" else {}


def save_table(
    df: pd.DataFrame,
    name: str,
    out_dir: str | os.PathLike,
    *,
    formats: tuple[str, ...] = TABLE_FORMATS,
    float_format: str = "%.4f",
) -> None:
    """Write a table as ``<name>.<fmt>`` for each of ``formats`` (CSV, Markdown, LaTeX).

    Returns nothing, like ``DataFrame.to_csv(path)``: a notebook cell ending in this
    call shows no stray output.
    """
    out_dir = Path(out_dir)
    for fmt in formats:
        target = out_dir / f"{name}.{fmt}"
        if fmt == "csv":
            text = df.to_csv(index=False, float_format=float_format)
        elif fmt == "md":
            text = df.to_markdown(index=False, floatfmt=float_format.lstrip("%")) + "\n"
        elif fmt == "tex":
            text = df.to_latex(index=False, float_format=lambda x: float_format % x)
        else:
            raise ValueError(f"unknown table format {fmt!r} for {name}")
        atomic_write_text(target, text)
