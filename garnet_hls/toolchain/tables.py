"""Text and number helpers shared by the report parsers of every tool (Vivado HLS / Vitis HLS, Vivado): the
leading number of a table cell, times in any unit as ns, percentages, and the ASCII tables
("+----+----+" / "| a  | b  |") the tools print."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable


_NUM_RE = re.compile(r"^\s*[~<>]?\s*(-?\d+(?:\.\d+)?)")
_TIME_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ps|ns|us|µs|ms|s|sec)?\s*$")
_TIME_SCALE = {"ps": 1e-3, "ns": 1.0, None: 1.0, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "sec": 1e9}


def number(text: str | None) -> int | float | None:
    """Leading number of a cell ('30 (~0%)' -> 30, '56.5' -> 56.5); None for '-', 'NA', '?', ''."""
    if text is None:
        return None
    m = _NUM_RE.match(text)
    if not m:
        return None
    s = m.group(1)
    return float(s) if "." in s else int(s)


def integer(text: str | None) -> int | None:
    v = number(text)
    return int(v) if v is not None and float(v).is_integer() else None


def time_ns(text: str | None) -> float | None:
    """'50.000 ns' -> 50.0, '0.825 us' -> 825.0, '10.00' -> 10.0 (ns assumed)."""
    if text is None:
        return None
    m = _TIME_RE.match(text)
    if not m:
        return None
    return round(float(m.group(1)) * _TIME_SCALE[m.group(2)], 6)


def percent(used: float | None, available: float | None) -> float | None:
    if used is None or not available:
        return None
    return 100.0 * used / available


def fmt_pct(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.1f}%"


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().lower()


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


# ----------------------------------------------------------------------------------------------
# ASCII tables ("+----+----+" / "| a  | b  |")
# ----------------------------------------------------------------------------------------------


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]  # raw (unstripped) cells of the data rows

    def col(self, *words: str, exclude: Iterable[str] = ()) -> int | None:
        """Index of the first column whose name contains all ``words`` and none of ``exclude``."""
        for i, name in enumerate(self.columns):
            n = norm(name)
            if all(w in n for w in words) and not any(x in n for x in exclude):
                return i
        return None

    def cell(self, row: list[str], idx: int | None) -> str | None:
        if idx is None or idx >= len(row):
            return None
        return row[idx].strip()


def _is_border(line: str) -> bool:
    s = line.strip()
    return len(s) > 1 and s[0] == "+" and set(s) <= {"+", "-"}


def _delims(line: str) -> list[int]:
    return [i for i, c in enumerate(line) if c in "|+"]


def read_table(lines: list[str], start: int) -> tuple[Table, int]:
    """Read the table whose top border is ``lines[start]``; return it and the index after it."""
    block = []
    i = start
    while i < len(lines) and lines[i].strip()[:1] in ("+", "|"):
        block.append(lines[i].rstrip("\r\n"))
        i += 1
    borders = [k for k, line in enumerate(block) if _is_border(line)]
    if len(borders) >= 2:
        header = [line for line in block[borders[0] + 1 : borders[1]] if not _is_border(line)]
        data = [line for line in block[borders[1] + 1 :] if not _is_border(line)]
    else:
        header, data = [], [line for line in block if not _is_border(line)]
    base_line = data[0] if data else (header[-1] if header else "")
    base = [p for p, c in enumerate(base_line) if c == "|"] if data else _delims(base_line)
    columns = []
    for k in range(len(base) - 1):
        mid = (base[k] + base[k + 1]) / 2
        parts = []
        for h in header:
            d = _delims(h)
            for j in range(len(d) - 1):
                if d[j] < mid < d[j + 1]:
                    text = h[d[j] + 1 : d[j + 1]].strip().strip("-").strip()
                    if text:
                        parts.append(text)
                    break
        columns.append(" ".join(parts))
    rows = [line.strip().split("|")[1:-1] for line in data if line.strip().startswith("|")]
    return Table(columns, rows), i
