"""Loading rows, timezone and transformations from the database into a plan."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg.types.json import Jsonb

from integration_orchestrator.mapping import MappingDefinitionError, MappingRow, load_mapping_rows
from integration_orchestrator.mapping.loading import load_plan, referenced_transformation_ids
from integration_orchestrator_tests.mapping.dbrows import insert_config, insert_mapping


def _transformation(db: Any, org: Any, expression: str) -> Any:
    return db.execute(
        "INSERT INTO integration_transformations (transformation_name, transformation_type, "
        "language, transformation_logic, organization_id)"
        " VALUES ('shout', 'map', 'jmespath', %s, %s) RETURNING id",
        (Jsonb({"expression": expression}), org),
    ).fetchone()["id"]


def test_rows_plan_timezone_and_transformations(db: Any) -> None:
    org, config = insert_config(db, "shop", timezone="Asia/Tokyo")
    shout = _transformation(db, org, "{value: join('', [value, '!'])}")
    insert_mapping(
        db, org, config, mapping_name="when", source_path="ts", target_path="at", target_data_type="datetime"
    )
    insert_mapping(db, org, config, mapping_name="name", source_path="$.name", target_path="name",
                   transformation_rules={"type": "transformation", "transformation_id": str(shout)})
    insert_mapping(db, org, config, mapping_name="off", source_path="x", target_path="x", is_active=False)
    rows = load_mapping_rows(db, config)
    assert [r.mapping_name for r in rows] == ["when", "name"]
    assert all(isinstance(r, MappingRow) for r in rows)
    assert all(r.config_id == config for r in rows)
    assert rows[1].transformation_rules == {"type": "transformation", "transformation_id": str(shout)}
    assert referenced_transformation_ids(rows) == [str(shout)]
    assert [r.mapping_name for r in load_mapping_rows(db, config, include_inactive=True)] == ["when", "name", "off"]
    plan = load_plan(db, config)
    assert plan.apply({"ts": "2024-05-01T09:00:00", "name": "hey"}).output == {
        "at": "2024-05-01T09:00:00+09:00",
        "name": "hey!",
    }


def test_invalid_transformation_row_names_the_mapping(db: Any) -> None:
    org, config = insert_config(db, "shop2")
    broken = _transformation(db, org, "a[?")
    insert_mapping(db, org, config, mapping_name="uses_broken", source_path="a", target_path="b",
                   transformation_rules={"type": "transformation", "transformation_id": str(broken)})
    with pytest.raises(MappingDefinitionError) as caught:
        load_plan(db, config)
    assert caught.value.name == "uses_broken" and caught.value.field == "transformation_rules.transformation_id"
    assert "is invalid" in caught.value.reason


def test_unknown_transformation_id(db: Any) -> None:
    org, config = insert_config(db, "shop3")
    insert_mapping(
        db,
        org,
        config,
        mapping_name="ghost",
        source_path="a",
        target_path="b",
        transformation_rules={"type": "transformation", "transformation_id": "00000000-0000-0000-0000-000000000001"},
    )
    with pytest.raises(MappingDefinitionError, match="not found"):
        load_plan(db, config)
