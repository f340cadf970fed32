"""Loading rows, timezone and transformations from the database into a plan."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from integration_orchestrator.mapping import MappingDefinitionError, MappingRow, load_mapping_rows
from integration_orchestrator.mapping.loading import load_plan, referenced_transformation_ids
from integration_orchestrator_tests.rows import add_config, add_mapping, add_organization, add_transformation


def _config(db: Any, name: str, timezone: str = "UTC") -> tuple[str, UUID]:
    org = add_organization(db, f"org {name}")
    return org, UUID(add_config(db, org, name, integration_type="rest", timezone=timezone))


def _transformation(db: Any, org: Any, expression: str) -> str:
    return add_transformation(db, org, "shout", {"expression": expression}, transformation_type="map")


def test_rows_plan_timezone_and_transformations(db: Any) -> None:
    org, config = _config(db, "shop", "Asia/Tokyo")
    shout = _transformation(db, org, "{value: join('', [value, '!'])}")
    add_mapping(db, org, config, "when", "ts", "at", target_data_type="datetime")
    add_mapping(db, org, config, "name", "$.name", "name",
                transformation_rules={"type": "transformation", "transformation_id": str(shout)})
    add_mapping(db, org, config, "off", "x", "x", is_active=False)
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
    org, config = _config(db, "shop2")
    broken = _transformation(db, org, "a[?")
    add_mapping(db, org, config, "uses_broken", "a", "b",
                transformation_rules={"type": "transformation", "transformation_id": str(broken)})
    with pytest.raises(MappingDefinitionError) as caught:
        load_plan(db, config)
    assert caught.value.name == "uses_broken" and caught.value.field == "transformation_rules.transformation_id"
    assert "is invalid" in caught.value.reason


def test_unknown_transformation_id(db: Any) -> None:
    org, config = _config(db, "shop3")
    add_mapping(
        db,
        org,
        config,
        "ghost",
        "a",
        "b",
        transformation_rules={"type": "transformation", "transformation_id": "00000000-0000-0000-0000-000000000001"},
    )
    with pytest.raises(MappingDefinitionError, match="not found"):
        load_plan(db, config)
