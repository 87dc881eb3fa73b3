"""Test helpers shared by every tier: schemas and article builders."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

ROOT = Path(__file__).resolve().parent.parent

SCHEMAS = ROOT / "schemas"

# The user property under which a fault test's figures reach the "fault figures" summary (tests/conftest.py).
FIGURES_PROPERTY = "fault_figures"


@cache
def validator(schema_file: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / schema_file).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def assert_valid(schema_file: str, record: dict[str, Any]) -> None:
    errors = sorted(validator(schema_file).iter_errors(record), key=lambda e: list(e.path))
    assert not errors, f"{schema_file}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def raw_article(article_id: str = "t-1", **fields: Any) -> dict[str, Any]:
    base = {
        "id": article_id,
        "url": f"https://news.example.org/{article_id}",
        "title": "Hong Kong licenses a second crypto exchange",
        "text": ("Hong Kong's Securities and Futures Commission granted a licence to a second virtual asset "
                 "exchange on Tuesday. The People's Bank of China said crypto trading remains illegal on "
                 "the mainland."),
        "published_at": "2023-06-01T09:00:00Z",
        "source": "Test Wire",
    }
    base.update(fields)
    return base


def encode(article: dict[str, Any]) -> bytes:
    return json.dumps(article, ensure_ascii=False).encode()
