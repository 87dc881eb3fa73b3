"""Validation of raw ``articles.raw.v1`` bytes: pure, never raises on any input.

The checks mirror ``schemas/article.raw.v1.json`` (tests check both accept and reject the same
examples); they are hand-written because they sit on the hot path and must name a reason code.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime

from pipeline.aggregate import iso
from pipeline.analysis import ArticleInput

REQUIRED = ("id", "url", "title", "text", "published_at", "source")
MAX_DEPTH = 32
_LIMITS = {"id": 200, "url": 2048, "title": 1000, "source": 200}
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")
_CONTROL_IN_ID = re.compile(r"[\x00-\x1f]")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    error: str


@dataclass(frozen=True, slots=True)
class ValidArticle:
    article: ArticleInput
    content_hash: str
    published_ts: float


def validate_raw(value: bytes | None, max_bytes: int, not_after: float = math.inf) -> ValidArticle | Rejection:
    """A raw message checked as ``schemas/article.raw.v1.json`` says, and published no later than the Unix time
    ``not_after`` (the caller's clock plus its tolerance)."""
    if value is None:
        return Rejection("missing_field", "empty message value (tombstone)")
    if len(value) > max_bytes:
        return Rejection("oversize", f"{len(value)} bytes exceeds the {max_bytes}-byte limit")
    try:
        decoded = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection("invalid_utf8", str(exc))
    if _nesting_depth(decoded) > MAX_DEPTH:
        return Rejection("nested_too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(decoded)
    except (ValueError, RecursionError) as exc:
        return Rejection("invalid_json", str(exc)[:500])
    if not isinstance(data, dict):
        return Rejection("not_an_object", f"expected a JSON object, got {type(data).__name__}")
    return validate_fields(data, not_after)


def validate_fields(data: dict[str, object], not_after: float = math.inf) -> ValidArticle | Rejection:
    version = data.get("schema_version", 1)
    if version != 1 or isinstance(version, bool):
        return Rejection("unsupported_schema_version", f"schema_version {version!r} is not 1")
    missing = [name for name in REQUIRED if name not in data or data[name] is None]
    if missing:
        return Rejection("missing_field", f"missing required field(s): {', '.join(missing)}")
    for name in (*REQUIRED, "language"):
        field = data.get(name)
        if name == "language" and field is None:
            continue
        if not isinstance(field, str):
            return Rejection("wrong_type", f"{name} must be a string, got {type(field).__name__}")
        if "\x00" in field:
            return Rejection("invalid_value", f"{name} contains a NUL character")
        limit = _LIMITS.get(name)
        if limit is not None and len(field) > limit:
            return Rejection("invalid_value", f"{name} is longer than {limit} characters")
    unencodable = _unencodable_field(data)
    if unencodable is not None:
        # Valid JSON ("\\ud800" escaped) that decodes to half a UTF-16 pair: no character, and nothing downstream
        # can encode it (hashing, the enriched record, `pipeline ingest` sending the whole item on), so it would stop
        # the stage or the ingest, not one article. Any field: the ones the schema does not name travel too.
        return Rejection("invalid_value",
                         f"{unencodable} contains a lone surrogate (\\ud800-\\udfff), not a character")
    article_id = str(data["id"])
    if not article_id or _CONTROL_IN_ID.search(article_id):
        return Rejection("invalid_value", "id must be non-empty without control characters")
    text = str(data["text"])
    if not text.strip():
        return Rejection("empty_text", "text is empty or whitespace")
    published = str(data["published_at"])
    timestamp = parse_timestamp(published)
    if timestamp is None:
        return Rejection("invalid_value", f"published_at {published[:40]!r} is not RFC 3339 with an offset")
    if timestamp > not_after:
        # A news article is not published in the future: a typo'd year would carry its partition's event-time
        # clock, and the watermark (which never moves back) with it, past every later article.
        return Rejection("invalid_value", f"published_at {published!r} is ahead of the accepted time "
                                          f"({iso(not_after)}: this process's clock plus PIPELINE_MAX_FUTURE_SECONDS)")
    language = data.get("language")
    if language is not None and not _LANGUAGE.match(str(language)):
        return Rejection("invalid_value", f"language {str(language)[:20]!r} is not a BCP 47 tag")
    title = str(data["title"])
    article = ArticleInput(
        id=article_id, text=text, title=title, url=str(data["url"]), published_at=published,
        source=str(data["source"]), language=str(language) if language is not None else None,
    )
    digest = hashlib.blake2b(f"{title}\n{text}".encode(), digest_size=16).hexdigest()
    return ValidArticle(article, digest, timestamp)


def _unencodable_field(data: dict[str, object]) -> str | None:
    """The first field (its name, as given) whose name or value, at any depth, holds a string that cannot be
    encoded as UTF-8; None when every one can. Iterative: an ingested item's nesting is not bounded here."""
    for name, value in data.items():
        pending: list[object] = [name, value]
        while pending:
            item = pending.pop()
            if isinstance(item, str):
                if not item.isascii() and not _encodable(item):
                    return repr(name) if not _encodable(name) else name
            elif isinstance(item, dict):
                for key, nested in item.items():
                    pending.extend((key, nested))
            elif isinstance(item, list):
                pending.extend(item)
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def parse_timestamp(value: str) -> float | None:
    if not _RFC3339.match(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _nesting_depth(text: str) -> int:
    """Bracket depth outside strings; cheap guard before json.loads meets a pathological document."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest
