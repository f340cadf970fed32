"""An engine added through the ``integration_orchestrator.engines`` entry point, used by a
reusable ``integration_transformations`` row (``language`` is text since migration 0013)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg

from integration_orchestrator.assembly import build_definitions, check_snapshot
from integration_orchestrator.factory.load import load_snapshot_from_url
from integration_orchestrator_tests.rows import add_config, add_organization, add_pipeline, add_transformation
from integration_orchestrator_tests.transforms.test_registry import installed_distribution

__all__ = ["installed_distribution"]  # the fixture: a real installed distribution declaring the engine


def test_a_reusable_row_uses_an_entry_point_engine(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, installed_distribution: Path,
) -> None:
    org = add_organization(db)
    out = tmp_path / "greetings.ndjson"
    config = add_config(db, org, "Greet", [{"name": "ada"}, {"name": "bob"}], target={"type": "file", "path": str(out)})
    greet = add_transformation(db, org, "greet", {"template": "Hello {name}"}, language="template",
                               transformation_type="map", is_reusable=True)
    add_pipeline(db, org, config, "greet", [{"name": "greet", "order": 1, "transformation_id": greet}])
    with dg.instance_for_test() as instance:
        assert build_definitions(database_url).get_job_def("greet").execute_in_process(instance=instance).success
    assert [json.loads(line) for line in out.read_text().splitlines()] == [{"text": "Hello ada"},
                                                                           {"text": "Hello bob"}]


def test_a_row_in_an_unknown_language_is_an_invalid_row(db: psycopg.Connection[Any], database_url: str) -> None:
    org = add_organization(db)
    config = add_config(db, org, "Greet", [])
    greet = add_transformation(db, org, "greet", {"template": "x"}, language="cobol", is_reusable=True)
    pipeline = add_pipeline(db, org, config, "greet", [{"name": "greet", "order": 1, "transformation_id": greet}])
    checked = check_snapshot(load_snapshot_from_url(database_url), database_url)
    assert checked.jobs == ()
    messages = [r.message for r in checked.invalid if r.row_id in (pipeline, greet)]
    assert messages and any("cobol" in m for m in messages), messages
