"""Tables out: plain text, CSV, Markdown and LaTeX from one Table structure.

Text that came from users (design and node names) is passed through ``printable`` in
every format, so a name can neither drive the terminal, reorder a line nor break the
encoder (a lone surrogate).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from core.common.errors import printable


@dataclass
class Table:
    headers: list[str]
    rows: list[list] = field(default_factory=list)
    title: str = ""
    # Columns holding numbers: right-aligned, thousands separators in text formats.
    numeric: set[int] = field(default_factory=set)
    percent: set[int] = field(default_factory=set)  # float columns shown as percentages

    def cell(self, value, column: int) -> str:
        if value is None:
            return ""
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        if isinstance(value, float):
            if column in self.percent:
                return f"{value:.2%}"
            return f"{int(value):,}" if value.is_integer() else f"{value:,.2f}"
        return printable(str(value))

    def heading(self) -> tuple[str, list[str]]:
        """The title and the headers, made printable."""
        return printable(self.title), [printable(str(h)) for h in self.headers]


def to_text(table: Table) -> str:
    title, headers = table.heading()
    cells = [[table.cell(v, i) for i, v in enumerate(row)] for row in table.rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values):
        return "  ".join(v.rjust(w) if i in table.numeric else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths))).rstrip()
    out = [title] if title else []
    out += [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return "\n".join(out) + "\n"


def to_csv(table: Table) -> str:
    """Plain numbers (no separators) so that spreadsheets read them as numbers."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.heading()[1])
    for row in table.rows:
        writer.writerow(["" if v is None else printable(v) if isinstance(v, str) else v
                         for v in row])
    return buf.getvalue()


def to_markdown(table: Table) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")
    title, headers = table.heading()
    align = ["---:" if i in table.numeric else ":---" for i in range(len(headers))]
    out = [f"**{esc(title)}**", ""] if title else []
    out.append("| " + " | ".join(esc(h) for h in headers) + " |")
    out.append("| " + " | ".join(align) + " |")
    for row in table.rows:
        out.append("| " + " | ".join(esc(table.cell(v, i)) for i, v in enumerate(row)) + " |")
    return "\n".join(out) + "\n"


_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                  "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "\\": r"\textbackslash{}", "×": r"$\times$", "↳": r"$\hookrightarrow$",
                  "→": r"$\to$", "·": r"$\cdot$", "−": "-", "≤": r"$\le$", "√": r"$\surd$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """A booktabs tabular (needs \\usepackage{booktabs}); numbers use {,} separators."""
    title, headers = table.heading()
    spec = "".join("r" if i in table.numeric else "l" for i in range(len(headers)))
    out = [r"\begin{tabular}{" + spec + "}", r"\toprule"]
    out.append(" & ".join(latex_escape(h) for h in headers) + r" \\")
    out.append(r"\midrule")
    for row in table.rows:
        cells = [latex_escape(table.cell(v, i)).replace(",", "{,}") if i in table.numeric
                 else latex_escape(table.cell(v, i)) for i, v in enumerate(row)]
        out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if title:
        out.insert(0, "% " + title)
    return "\n".join(out) + "\n"


FORMATS = {"table": to_text, "csv": to_csv, "md": to_markdown, "latex": to_latex}


def render(table: Table, fmt: str) -> str:
    return FORMATS[fmt](table)
