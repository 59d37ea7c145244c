"""Solution regions inside one cell's source, with nbgrader's markers and rules.

    def softmax(x):
        ### BEGIN SOLUTION
        exps = ...
        ### END SOLUTION

becomes, in lessons/, a stub at the marker's indentation:

    def softmax(x):
        # YOUR CODE HERE
        raise NotImplementedError("softmax: <one-line hint>")

Nested or unclosed markers, and an END without a BEGIN, are errors that quote the line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


class RegionError(ValueError):
    """A marker problem; `line` is 1-based within the cell."""

    def __init__(self, message: str, line: int):
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Region:
    begin: int  # 1-based line of the BEGIN marker
    end: int  # 1-based line of the END marker
    indent: str
    lines: tuple[str, ...]  # the solution lines between the markers


def find_regions(source: str) -> list[Region]:
    regions, open_at, indent, body = [], None, "", []
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if open_at is not None:
                raise RegionError(f"nested '{BEGIN}' (the region opened on line {open_at} is not closed)", number)
            open_at, indent, body = number, line[: len(line) - len(line.lstrip())], []
        elif marker == END:
            if open_at is None:
                raise RegionError(f"'{END}' without a '{BEGIN}' before it", number)
            regions.append(Region(open_at, number, indent, tuple(body)))
            open_at = None
        elif open_at is not None:
            body.append(line)
        elif "BEGIN SOLUTION" in marker or "END SOLUTION" in marker:
            raise RegionError(f"malformed marker {marker!r}: write exactly '{BEGIN}' or '{END}' on a line of its own", number)
    if open_at is not None:
        raise RegionError(f"'{BEGIN}' is never closed by '{END}'", open_at)
    return regions


def replace_regions(source: str, stub_message: str) -> str:
    """The cell with every region replaced by a stub that keeps the marker's indentation."""
    regions = {r.begin: r for r in find_regions(source)}
    out, skip_until = [], 0
    for number, line in enumerate(source.splitlines(), start=1):
        if number <= skip_until:
            continue
        region = regions.get(number)
        if region is None:
            out.append(line)
            continue
        out.append(f"{region.indent}# YOUR CODE HERE")
        out.append(f"{region.indent}raise NotImplementedError({stub_message!r})")
        skip_until = region.end
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def check_regions_in_bodies(source: str) -> None:
    """Every region must sit inside a def or class body, so an exercise cell only defines things."""
    regions = find_regions(source)
    if not regions:
        return
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise RegionError(f"not valid Python: {error.msg}", error.lineno or 1) from None
    bodies = [(node.lineno, node.end_lineno) for node in ast.walk(tree)
              if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    for region in regions:
        code = [region.begin + i for i, line in enumerate(region.lines, start=1)
                if line.strip() and not line.strip().startswith("#")]
        if not code:
            raise RegionError("the solution region is empty", region.begin)
        # A def's span ends at its last statement, so the END marker (a comment) may lie past it.
        if not any(first < code[0] and code[-1] <= last for first, last in bodies):
            raise RegionError("a solution region must sit inside a def or class body", region.begin)
