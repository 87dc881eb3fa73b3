"""Reading article files for ``ingest`` and ``analyze``: JSON Lines, a directory of .json/.txt, or stdin."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """One input item could not be read; carries where it came from."""


def sample_corpus_path() -> Path:
    """The bundled sample corpus (articles we wrote for demos and tests)."""
    return Path(str(resources.files("pipeline.data").joinpath("samples/articles.jsonl")))


def read_articles(path: str) -> Iterator[tuple[str, dict[str, Any] | InputError]]:
    """Yield ``(where, article dict or InputError)`` in input order; never stops on a bad item."""
    if path == "-":
        yield from _read_lines(sys.stdin, "<stdin>")
        return
    target = Path(path)
    if target.is_dir():
        for file in sorted(target.iterdir()):
            if file.suffix == ".json":
                yield from _read_json_file(file)
            elif file.suffix == ".txt":
                yield str(file), _text_file(file)
            elif file.suffix == ".jsonl":
                with file.open(encoding="utf-8", errors="strict") as fh:
                    yield from _read_lines(fh, str(file))
        return
    if not target.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    with target.open(encoding="utf-8") as fh:
        yield from _read_lines(fh, str(target))


def _read_lines(lines: Any, name: str) -> Iterator[tuple[str, dict[str, Any] | InputError]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield where, InputError(f"{where}: invalid JSON: {exc}")
            continue
        yield where, item if isinstance(item, dict) else InputError(f"{where}: not a JSON object")


def _read_json_file(file: Path) -> Iterator[tuple[str, dict[str, Any] | InputError]]:
    try:
        item = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        yield str(file), InputError(f"{file}: {exc}")
        return
    items = item if isinstance(item, list) else [item]
    for index, entry in enumerate(items):
        where = f"{file}[{index}]" if isinstance(item, list) else str(file)
        yield where, entry if isinstance(entry, dict) else InputError(f"{where}: not a JSON object")


def _text_file(file: Path) -> dict[str, Any] | InputError:
    """A .txt file: first line is the title, the rest the text; id from the file name."""
    try:
        content = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return InputError(f"{file}: {exc}")
    title, _, text = content.partition("\n")
    modified = datetime.fromtimestamp(file.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": file.stem, "url": file.resolve().as_uri(), "title": title.strip(), "text": text.strip(),
            "published_at": modified, "source": "file"}
