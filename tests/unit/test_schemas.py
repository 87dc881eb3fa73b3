"""Topics, records and schemas are declared once each; these tests hold them to each other."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from pipeline.topics import PUBLIC_TOPICS, TopicSpec
from tests.helpers import SCHEMAS, assert_valid


@pytest.mark.parametrize("spec", PUBLIC_TOPICS, ids=lambda s: s.name)
def test_schema_is_valid_and_its_example_validates(spec: TopicSpec) -> None:
    assert spec.schema is not None
    schema = json.loads((SCHEMAS / spec.schema).read_text())
    Draft202012Validator.check_schema(schema)
    example = json.loads((SCHEMAS / "examples" / spec.schema).read_text())
    assert_valid(spec.schema, example)


@pytest.mark.parametrize("spec", PUBLIC_TOPICS, ids=lambda s: s.name)
def test_record_fields_match_schema_properties(spec: TopicSpec) -> None:
    assert spec.schema is not None and spec.record is not None
    schema = json.loads((SCHEMAS / spec.schema).read_text())
    fields = spec.record._options.fields
    assert set(fields) == set(schema["properties"]), spec.name
    optional = spec.record._options.optionalset
    assert set(schema["required"]) | optional >= set(fields)
    for name in schema["required"]:
        if name not in optional:
            continue
        # A required-but-defaulted record field must at least accept null in the schema.
        assert "null" in json.dumps(schema["properties"][name]), name


@pytest.mark.parametrize("spec", PUBLIC_TOPICS, ids=lambda s: s.name)
def test_example_round_trips_through_the_record(spec: TopicSpec) -> None:
    assert spec.schema is not None and spec.record is not None
    example = json.loads((SCHEMAS / "examples" / spec.schema).read_text())
    known = {k: v for k, v in example.items() if k in spec.record._options.fields}
    record = spec.record(**known)
    dumped: dict[str, Any] = json.loads(record.dumps())
    assert "__faust" not in dumped
    assert_valid(spec.schema, dumped)


@pytest.mark.parametrize("spec", PUBLIC_TOPICS, ids=lambda s: s.name)
def test_record_types_match_schema_types(spec: TopicSpec) -> None:
    assert spec.schema is not None and spec.record is not None
    schema = json.loads((SCHEMAS / spec.schema).read_text())
    python_to_json = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
                      dict: "object"}
    for name, annotation in typing.get_type_hints(spec.record).items():
        if name.startswith("_") or name not in schema["properties"]:
            continue
        prop = schema["properties"][name]
        declared = prop.get("type")
        if declared is None:
            continue  # const/enum/$ref: checked by the round trip
        origin = typing.get_origin(annotation) or annotation
        if origin in (typing.Union, types.UnionType):
            inner = next(a for a in typing.get_args(annotation) if a is not type(None))
            origin = typing.get_origin(inner) or inner
        expected = python_to_json.get(origin)
        allowed = declared if isinstance(declared, list) else [declared]
        assert expected in allowed, f"{spec.name}.{name}: record {annotation} vs schema {declared}"


def test_every_public_topic_has_a_schema_file_and_example() -> None:
    files = {p.name for p in SCHEMAS.glob("*.json")}
    examples = {p.name for p in (SCHEMAS / "examples").glob("*.json")}
    declared = {spec.schema for spec in PUBLIC_TOPICS}
    assert files == declared == examples
