"""Template files: good ones load, bad ones are rejected naming the file and the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integration_orchestrator.templates.checks import check_document
from integration_orchestrator.templates.model import (
    TemplateError,
    dump_document,
    format_path,
    load_template_file,
    parse_template,
)
from integration_orchestrator_tests.templates.helpers import minimal_template, write_template


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


BAD_FILES = [
    ("missing version", _delete(["version"]), "version", "missing"),
    ("missing mapping_templates", _delete(["mapping_templates"]), "mapping_templates", "missing"),
    ("missing test_suite", _delete(["test_suite"]), "test_suite", "missing"),
    ("connection is an array", _set(["connection_template"], [1, 2]), "connection_template", "JSON object"),
    ("mapping_templates is an array", _set(["mapping_templates"], []), "mapping_templates", "JSON object"),
    (
        "transformation_library is a string",
        _set(["transformation_library"], "x"),
        "transformation_library",
        "JSON object",
    ),
    ("rate_limits is a number", _set(["rate_limits"], 5), "rate_limits", "JSON object"),
    ("test_suite is an array", _set(["test_suite"], []), "test_suite", "JSON object"),
    ("tests not a list", _set(["test_suite", "tests"], {"a": 1}), "test_suite.tests", "JSON array"),
    (
        "input_data not an object",
        _set(["test_suite", "tests", 0, "input_data"], [1]),
        "test_suite.tests[0].input_data",
        "JSON object",
    ),
    (
        "expected not an object",
        _set(["test_suite", "tests", 1, "expected_output"], 3),
        "test_suite.tests[1].expected_output",
        "JSON object",
    ),
    (
        "mapping without source_path",
        _delete(["mapping_templates", "mappings", 1, "source_path"]),
        "mapping_templates.mappings[1].source_path",
        "missing",
    ),
    (
        "rules without type",
        _set(["mapping_templates", "mappings", 0, "transformation_rules"], {"to": "integer"}),
        "mapping_templates.mappings[0].transformation_rules.type",
        "missing",
    ),
    (
        "rules not an object",
        _set(["mapping_templates", "mappings", 0, "transformation_rules"], "cast"),
        "mapping_templates.mappings[0].transformation_rules",
        "JSON object",
    ),
    ("bad category", _set(["template_category"], "fun"), "template_category", "is not one of"),
    ("bad version", _set(["version"], "v1"), "version", "does not match"),
    (
        "bad test type",
        _set(["test_suite", "tests", 0, "test_type"], "smoke"),
        "test_suite.tests[0].test_type",
        "is not one of",
    ),
    ("unknown top-level field", _set(["colour"], "red"), "colour", "not a known template field"),
    (
        "duplicate mapping name",
        _set(["mapping_templates", "mappings", 1, "name"], "person_id"),
        "mapping_templates.mappings[1].name",
        "used twice",
    ),
    (
        "test names unknown mapping",
        _set(["test_suite", "tests", 1, "mapping"], "age"),
        "test_suite.tests[1].mapping",
        "does not define",
    ),
    (
        "target outside target_schema",
        _set(["mapping_templates", "mappings", 1, "target_path"], "person.name"),
        "mapping_templates.mappings[1].target_path",
        "does not declare",
    ),
    ("mapping without test", _delete(["test_suite", "tests", 1]), "test_suite.tests", "without any test: name"),
    ("no source in connection", _delete(["connection_template", "source"]), "connection_template.source", "missing"),
    (
        "http without rate limit",
        lambda d: d.update(
            rate_limits={"note": "unknown"}, connection_template={"source": {"type": "http", "url": "https://x"}}
        ),
        "rate_limits",
        "must state the vendor's rate limit",
    ),
]


@pytest.mark.parametrize(("label", "change", "field", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_template_file_names_file_and_field(
    tmp_path: Path, label: str, change: Callable[[dict[str, Any]], None], field: str, reason: str
) -> None:
    data = minimal_template()
    change(data)
    path = write_template(tmp_path, data, "broken.yaml")
    with pytest.raises(TemplateError) as caught:
        load_template_file(path)
    message = str(caught.value)
    assert message.startswith("In template file `broken.yaml`, field `" + field + "`"), message
    assert reason in message
    assert caught.value.field == field


DEEP_BAD = [
    ("unknown rule type", _set(["mapping_templates", "mappings", 1, "transformation_rules"], {"type": "upper"}),
     "mapping_templates.mappings[1].transformation_rules.type", "unknown rule type"),
    ("invalid source path", _set(["mapping_templates", "mappings", 1, "source_path"], "$.name[?"),
     "mapping_templates.mappings[1].source_path", ""),
    ("impossible cast", _set(["mapping_templates", "mappings", 0, "source_data_type"], "object"),
     "mapping_templates.mappings[0]", "object"),
    ("http source without url", _set(["connection_template", "source"], {"type": "http"}),
     "connection_template.source", "url"),
    ("unknown source type", _set(["connection_template", "source"], {"type": "ftp"}),
     "connection_template.source", "ftp"),
]


@pytest.mark.parametrize(("label", "change", "field", "reason"), DEEP_BAD, ids=[b[0] for b in DEEP_BAD])
def test_invalid_mappings_and_connections_name_the_field(
    label: str, change: Callable[[dict[str, Any]], None], field: str, reason: str
) -> None:
    data = minimal_template()
    change(data)
    document = parse_template(data, source="deep.yaml")
    with pytest.raises(TemplateError) as caught:
        check_document(document)
    assert caught.value.source == "deep.yaml"
    assert caught.value.field is not None and caught.value.field.startswith(field), caught.value.field
    assert reason in str(caught.value)


def test_not_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "garbled.yaml"
    path.write_text("template_name: x\nversion: [1.0\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"In template file `garbled.yaml`: not valid YAML at line \d+"):
        load_template_file(path)


def test_not_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "garbled.json"
    path.write_text('{"template_name": "x",\n "version": }', encoding="utf-8")
    with pytest.raises(TemplateError, match=r"garbled.json`: not valid JSON at line 2"):
        load_template_file(path)


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"list.yaml`: must be a JSON object, got an array"):
        load_template_file(path)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"nope.yaml`: cannot read the file"):
        load_template_file(tmp_path / "nope.yaml")


def test_dates_stay_strings_and_dump_round_trips(tmp_path: Path) -> None:
    data = minimal_template()
    data["test_suite"]["tests"][1]["input_data"]["name"] = "2024-01-01"
    data["test_suite"]["tests"][1]["expected_output"]["name"] = "2024-01-01"
    path = tmp_path / "t.yaml"
    path.write_text(
        dump_document(parse_template(data, source="x")).replace("'2024-01-01'", "2024-01-01"), encoding="utf-8"
    )
    document = load_template_file(path)
    assert document.tests[1]["input_data"]["name"] == "2024-01-01"
    assert document.to_dict() == parse_template(data, source="x").to_dict()


def test_json_template_file(tmp_path: Path) -> None:
    import json

    path = tmp_path / "t.json"
    path.write_text(json.dumps(minimal_template()), encoding="utf-8")
    document = load_template_file(path)
    assert document.key == ("tiny_people", "1.0.0")
    assert [m["name"] for m in document.mappings] == ["person_id", "name"]
    assert document.source == "t.json"


@pytest.mark.parametrize(
    ("parts", "text"),
    [(["a"], "a"), (["a", 2, "b"], "a[2].b"), ([], ""), (["m", 0], "m[0]")],
)
def test_format_path(parts: list[Any], text: str) -> None:
    assert format_path(parts) == text


LIBRARY_BAD = [
    ("library rule without type", _set(["transformation_library"], {"rules": {"x": {"values": {}}}}),
     "transformation_library.rules.x.type", "missing"),
    ("library unknown key", _set(["transformation_library"], {"helpers": {}}),
     "transformation_library.helpers", "not a known template field"),
    ("library transformation without logic", _set(["transformation_library"], {"transformations": [
        {"transformation_name": "t", "transformation_type": "filter", "language": "jmespath"}]}),
     "transformation_library.transformations[0].transformation_logic", "missing"),
]


@pytest.mark.parametrize(("label", "change", "field", "reason"), LIBRARY_BAD, ids=[b[0] for b in LIBRARY_BAD])
def test_bad_transformation_library_shape(
    tmp_path: Path, label: str, change: Callable[[dict[str, Any]], None], field: str, reason: str
) -> None:
    data = minimal_template()
    change(data)
    with pytest.raises(TemplateError) as caught:
        load_template_file(write_template(tmp_path, data, "lib.yaml"))
    assert caught.value.field == field and reason in str(caught.value)


LIBRARY_DEEP = [
    (
        "library rule kind unknown",
        {"rules": {"shout": {"type": "upper"}}},
        "transformation_library.rules.shout.type",
        "unknown rule type",
    ),
    (
        "library jmespath syntax",
        {
            "transformations": [
                {
                    "transformation_name": "t",
                    "transformation_type": "filter",
                    "language": "jmespath",
                    "transformation_logic": {"expression": "a ==="},
                }
            ]
        },
        "transformation_library.transformations[0]",
        "",
    ),
]


@pytest.mark.parametrize(("label", "library", "field", "reason"), LIBRARY_DEEP, ids=[b[0] for b in LIBRARY_DEEP])
def test_bad_transformation_library_content(label: str, library: dict[str, Any], field: str, reason: str) -> None:
    data = minimal_template()
    data["transformation_library"] = library
    with pytest.raises(TemplateError) as caught:
        check_document(parse_template(data, source="lib.yaml"))
    assert caught.value.field is not None and caught.value.field.startswith(field), caught.value.field
    assert reason in str(caught.value)


def test_library_transformation_cases_count_in_the_suite() -> None:
    from integration_orchestrator.templates.testing import run_test_suite

    data = minimal_template()
    data["transformation_library"] = {"transformations": [{
        "transformation_name": "adults", "transformation_type": "filter", "language": "jmespath",
        "transformation_logic": {"expression": "age >= `18`"},
        "test_cases": {"cases": [
            {"name": "adult", "input": {"age": 30}, "expected": True},
            {"name": "wrong on purpose", "input": {"age": 3}, "expected": True},
        ]},
    }]}
    suite = run_test_suite(parse_template(data, source="lib.yaml"))
    assert not suite.passed
    assert [(o.mapping, o.name, o.passed) for o in suite.outcomes[-2:]] == [
        ("transformation adults", "adult", True), ("transformation adults", "wrong on purpose", False)
    ]
