"""Small formatting helpers shared by the terminal and Markdown renderers."""

from __future__ import annotations


def kib(n: int | None) -> str:
    if n is None:
        return "-"
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n >= 1024**3:
        return f"{sign}{n / 1024**3:.2f} GiB"
    if n >= 1024 * 1024:
        return f"{sign}{n / (1024 * 1024):.2f} MiB"
    return f"{sign}{n / 1024:.1f} KiB"


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def num(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def table(headers: list[str], rows: list[list[str]], markdown: bool = False) -> str:
    """A plain aligned text table, or a GitHub Markdown table."""
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])
