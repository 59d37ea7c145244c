"""What a translator has to do for one lesson: `python -m gptlab.course.authoring.translation_todo 02 [--lang zh]`.

Prints, as JSON, an entry for every cell of the lesson whose translation is missing or stale: its id, the hash of
the English ("en") to copy into solutions/<lang>/NN_topic.json, and the English itself (markdown: the source; code:
the comments to translate). `--merge FILE` reads {cell id: text, or {English comment: translation}} and writes the
entries, with their hashes, into the lesson's translation file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gptlab.course.authoring.build import read_notebook
from gptlab.course.authoring.editions import Translation, comments, digest, drift, english_of


def _lesson(solutions: Path, number: str) -> Path:
    return next(iter(sorted(solutions.glob(f"{number.zfill(2)}_*.ipynb"))))


def todo(solutions: Path, number: str, lang: str) -> dict:
    path = _lesson(solutions, number)
    nb = read_notebook(path)
    store = solutions / lang / f"{path.stem}.json"
    translation = Translation.read(store) if store.exists() else None
    wanted = {cell_id for _, cell_id, _ in drift(nb, translation, path.name, True).problems}
    return {cell.id: {"en": digest(english_of(cell)),
                      "english": cell.source if cell.cell_type == "markdown" else comments(cell.source)}
            for cell in nb.cells if cell.get("id") in wanted and english_of(cell) is not None}


def merge(solutions: Path, number: str, lang: str, texts: dict) -> Path:
    path = _lesson(solutions, number)
    nb = read_notebook(path)
    store = solutions / lang / f"{path.stem}.json"
    data = json.loads(store.read_text(encoding="utf-8")) if store.exists() else {"lesson": path.name, "lang": lang, "cells": {}}
    by_id = {cell.get("id"): cell for cell in nb.cells}
    for cell_id, text in texts.items():
        cell = by_id[cell_id]
        entry = {"en": digest(english_of(cell))}
        entry["text" if cell.cell_type == "markdown" else "comments"] = text
        data["cells"][cell_id] = entry
    order = [cell.get("id") for cell in nb.cells]
    data["cells"] = dict(sorted(data["cells"].items(), key=lambda item: order.index(item[0]) if item[0] in order else 1e9))
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return store


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gptlab.course.authoring.translation_todo", description=__doc__)
    parser.add_argument("lesson", help="the lesson's number, e.g. 02")
    parser.add_argument("--lang", default="zh")
    parser.add_argument("--solutions", default="solutions")
    parser.add_argument("--merge", help="a JSON file {cell id: translation} to write into the translation file")
    args = parser.parse_args()
    solutions = Path(args.solutions)
    if args.merge:
        print(merge(solutions, args.lesson, args.lang, json.loads(Path(args.merge).read_text(encoding="utf-8"))))
    else:
        print(json.dumps(todo(solutions, args.lesson, args.lang), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
