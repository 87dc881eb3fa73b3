from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.validation import MAX_DEPTH, Rejection, ValidArticle, validate_raw
from tests.helpers import assert_valid, encode, raw_article, validator

LIMIT = 10_000


def reason(value: bytes | None) -> str:
    result = validate_raw(value, LIMIT)
    assert isinstance(result, Rejection), result
    return result.reason


def test_valid_article_is_accepted_with_hash_and_timestamp() -> None:
    result = validate_raw(encode(raw_article()), LIMIT)
    assert isinstance(result, ValidArticle)
    assert result.article.id == "t-1"
    assert result.published_ts == 1685610000.0
    same = validate_raw(encode(raw_article(source="Other")), LIMIT)
    assert isinstance(same, ValidArticle) and same.content_hash == result.content_hash


@pytest.mark.parametrize("value,expected", [
    (None, "missing_field"),
    (b"x" * (LIMIT + 1), "oversize"),
    (b'{"id": "\xff\xfe"}', "invalid_utf8"),
    (b'{"id": "a",', "invalid_json"),
    (b"[" * (MAX_DEPTH + 5) + b"]" * (MAX_DEPTH + 5), "nested_too_deep"),
    (b'["a list"]', "not_an_object"),
    (b"42", "not_an_object"),
    (encode({k: v for k, v in raw_article().items() if k != "text"}), "missing_field"),
    (encode(raw_article(text=42)), "wrong_type"),
    (encode(raw_article(title=None)), "missing_field"),
    (encode(raw_article(text="   \n\t ")), "empty_text"),
    (encode(raw_article(published_at="yesterday")), "invalid_value"),
    (encode(raw_article(published_at="2023-06-01T09:00:00")), "invalid_value"),
    (encode(raw_article(text="null byte \x00 inside")), "invalid_value"),
    (encode(raw_article(language="English!")), "invalid_value"),
    (encode(raw_article(schema_version=2)), "unsupported_schema_version"),
    (encode(raw_article(schema_version=True)), "unsupported_schema_version"),
    (encode(raw_article("x" * 300)), "invalid_value"),
    # valid JSON, but "\ud800" alone decodes to no character: it cannot be hashed or sent on as UTF-8
    (json.dumps(raw_article(text="lone \ud800 surrogate")).encode(), "invalid_value"),
    (json.dumps(raw_article(url="https://example.com/\udfff")).encode(), "invalid_value"),
    # in a field the schema does not name, nested, or in a name: `pipeline ingest` sends the whole item on
    (json.dumps(raw_article(extra={"notes": ["ok", "half \udc00 a pair"]})).encode(), "invalid_value"),
    (json.dumps({**raw_article(), "\ud800": 1}).encode(), "invalid_value"),
])
def test_rejections_carry_a_reason_code(value: bytes | None, expected: str) -> None:
    assert reason(value) == expected


def test_an_article_published_after_the_bound_is_rejected_and_one_before_it_kept() -> None:
    # raw_article() is published at 1685610000 (2023-06-01T09:00:00Z)
    assert isinstance(validate_raw(encode(raw_article()), LIMIT, not_after=1685610000.0), ValidArticle)
    late = validate_raw(encode(raw_article()), LIMIT, not_after=1685609999.0)
    assert isinstance(late, Rejection) and late.reason == "invalid_value"
    assert "2023-06-01T08:59:59Z" in late.error and "PIPELINE_MAX_FUTURE_SECONDS" in late.error


@pytest.mark.parametrize("article", [
    raw_article(), raw_article(language="zh-Hant"), raw_article(schema_version=1, extra="ignored"),
    raw_article(published_at="2023-06-01T17:00:00+08:00"),
])
def test_validator_and_json_schema_agree_on_valid_input(article: dict[str, object]) -> None:
    assert isinstance(validate_raw(encode(article), LIMIT), ValidArticle)
    assert_valid("article.raw.v1.json", article)


@pytest.mark.parametrize("article", [
    raw_article(text=""), raw_article(text=5), raw_article(schema_version=2), raw_article(language="EN_us"),
    {k: v for k, v in raw_article().items() if k != "url"},
])
def test_validator_and_json_schema_agree_on_invalid_input(article: dict[str, object]) -> None:
    assert isinstance(validate_raw(encode(article), LIMIT), Rejection)
    assert list(validator("article.raw.v1.json").iter_errors(article))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children), max_leaves=20,
)


FIELDS = ["id", "url", "title", "text", "published_at", "source", "language", "schema_version"]
# Any code point, lone surrogates among them: json.dumps escapes them, as a producer in another language may,
# and they must be rejected, not raise.
# (Built from a list: st.text drops surrogates from any alphabet.)
any_text = st.lists(st.characters() | st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]), max_size=20) \
    .map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                 st.dictionaries(st.sampled_from(FIELDS), json_values).map(lambda v: json.dumps(v).encode()),
                 st.tuples(st.sampled_from([*FIELDS, "extra"]), any_text)
                 .map(lambda item: json.dumps({**raw_article(), item[0]: item[1]}).encode())))
def test_no_input_makes_validation_raise(value: bytes) -> None:
    result = validate_raw(value, LIMIT)
    assert isinstance(result, Rejection | ValidArticle)
    if isinstance(result, ValidArticle):  # what it accepts can be sent on as UTF-8
        for name in ("id", "url", "title", "text", "published_at", "source", "language"):
            (getattr(result.article, name) or "").encode()
        json.dumps(json.loads(value), ensure_ascii=False).encode()  # and the whole item, as `pipeline ingest` sends it
