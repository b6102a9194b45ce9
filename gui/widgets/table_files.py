"""Choosing where a table goes: CSV, Markdown or LaTeX by the file's suffix, else by the
filter the user picked in the save dialog (the suffix is then added)."""

from __future__ import annotations

from pathlib import Path

TABLE_FILTER = "CSV (*.csv);;Markdown (*.md);;LaTeX (*.tex)"
SUFFIX_FORMAT = {".csv": "csv", ".md": "md", ".tex": "latex"}
FORMAT_SUFFIX = {"csv": ".csv", "md": ".md", "latex": ".tex"}


def table_path_and_format(path: str | Path, chosen_filter: str = "") -> tuple[Path, str]:
    """(path with a table suffix, core.common.tables format name) for a save dialog's answer."""
    path = Path(path)
    fmt = SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt is None:
        chosen = chosen_filter or ""
        fmt = "md" if "Markdown" in chosen else "latex" if "LaTeX" in chosen else "csv"
        path = path.with_name(path.name + FORMAT_SUFFIX[fmt])
    return path, fmt
