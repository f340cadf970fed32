"""The extension point: engines from the ``integration_orchestrator.engines`` entry point group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration_orchestrator.transforms import (
    ENTRY_POINT_GROUP,
    Engine,
    RecordFailure,
    TransformationDefinitionError,
    available_languages,
    compile_transformation,
    register_engine,
    unregister_engine,
)
from integration_orchestrator.transforms.registry import load_engines
from integration_orchestrator_tests.rows import loaded_transformation

ENGINE_SOURCE = '''
from integration_orchestrator.transforms import Engine, LogicError, RecordFailure


class TemplateEngine(Engine):
    """``{"template": "Hello {name}"}``: str.format_map over the record, into field ``text``."""

    language = "template"

    def check(self, logic, transformation_type):
        if not isinstance(logic.get("template"), str):
            raise LogicError("template", "must be a format string")

    def build(self, logic, transformation_type, *, timeout_seconds):
        template = logic["template"]

        def run(records):
            out = []
            for record in records:
                try:
                    out.append({"text": template.format_map(record)})
                except KeyError as exc:
                    out.append(RecordFailure(f"missing field {exc}"))
            return out

        return run
'''


@pytest.fixture
def installed_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real (tiny) installed distribution declaring an engine entry point."""
    (tmp_path / "io_template_engine.py").write_text(ENGINE_SOURCE)
    dist = tmp_path / "io_template_engine-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: io-template-engine\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntemplate = io_template_engine:TemplateEngine\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    load_engines(refresh=True)
    yield tmp_path
    unregister_engine("template")


def test_entry_point_engine_is_discovered_and_compiles_rows(installed_distribution: Path) -> None:
    assert "template" in available_languages()
    compiled = compile_transformation(loaded_transformation("template", "enrich", {"template": "Hello {name}"}))
    outcome = compiled.apply([{"name": "Ada"}, {"nom": "Bob"}])
    assert outcome.records == [{"name": "Ada", "text": "Hello Ada"}]
    assert outcome.errors[0].message == "missing field 'name'"


def test_entry_point_engine_check_errors_name_the_row(installed_distribution: Path) -> None:
    with pytest.raises(
        TransformationDefinitionError, match=r"field `transformation_logic.template`: must be a format string"
    ):
        compile_transformation(loaded_transformation("template", "map", {"template": 3}))


class _Doubler(Engine):
    language = "doubler"

    def build(self, logic: Any, transformation_type: str, *, timeout_seconds: float) -> Any:
        field = logic["field"]
        if transformation_type == "aggregate":
            return lambda records: [{"total": 2 * sum(r[field] for r in records)}]
        return lambda records: [{field: 2 * r[field]} if field in r else RecordFailure("no field") for r in records]


def test_register_engine_at_run_time() -> None:
    register_engine(_Doubler)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_engine(_Doubler())
        mapped = compile_transformation(loaded_transformation("doubler", "map", {"field": "n"})).apply([{"n": 2}, {}])
        assert mapped.records == [{"n": 4}]
        assert [e.index for e in mapped.errors] == [1]
        aggregate = compile_transformation(loaded_transformation("doubler", "aggregate", {"field": "n"}))
        total = aggregate.apply([{"n": 2}, {"n": 3}])
        assert total.records == [{"total": 10}]
    finally:
        unregister_engine("doubler")
    assert "doubler" not in available_languages()


def test_sandboxed_engines_must_come_from_an_entry_point() -> None:
    class Sandboxed(_Doubler):
        language = "sandboxed_doubler"
        sandboxed = True

    with pytest.raises(ValueError, match="install it as an entry point"):
        register_engine(Sandboxed)


def test_builtin_languages_are_registered() -> None:
    assert {"javascript", "jmespath", "jsonpath", "python", "sql"} <= set(available_languages())
