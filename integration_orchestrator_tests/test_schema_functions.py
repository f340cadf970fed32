"""The schema's SQL functions: validate_field_mapping (trigger) and jsonb_deep_merge."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import errors
from psycopg.types.json import Jsonb

from integration_orchestrator_tests.rows import Conn, Ids, insert_row, one_row, valid_row

_one = one_row


# ---------------------------------------------------------------------------------------
# validate_field_mapping
# ---------------------------------------------------------------------------------------


@pytest.fixture
def warnings(sdb: Conn) -> Any:
    seen: list[str] = []

    def handler(diag: psycopg.errors.Diagnostic) -> None:
        if diag.severity_nonlocalized == "WARNING":
            seen.append(diag.message_primary or "")

    sdb.add_notice_handler(handler)
    yield seen
    sdb.remove_notice_handler(handler)


MISMATCH_CASES = [
    # source type, target type, rules, warns
    ("string", "integer", None, True),
    ("string", "integer", Jsonb({"type": "cast", "to": "integer"}), False),
    ("String", "string ", None, False),
    ("string", None, None, False),
    (None, "integer", None, False),
]


@pytest.mark.parametrize(("source", "target", "rules", "warns"), MISMATCH_CASES)
def test_type_mismatch_without_rules_warns_naming_the_mapping(
    sdb: Conn, organizations: tuple[Ids, Ids], warnings: list[str], source: Any, target: Any, rules: Any, warns: bool
) -> None:
    a, _ = organizations
    row = {**valid_row("integration_mappings", a), "source_data_type": source, "target_data_type": target,
           "transformation_rules": rules}
    new_id = insert_row(sdb, "integration_mappings", row)
    if warns:
        assert len(warnings) == 1
        assert f"mapping `{row['mapping_name']}` (id {new_id})" in warnings[0]
        assert "string -> integer" in warnings[0]
    else:
        assert warnings == []


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"to": "integer"}, 'transformation rules must include "type"'),
        ({"type": ""}, "must be a non-empty string"),
        ({"type": ["cast"]}, "must be a non-empty string"),
    ],
)
def test_rules_without_a_type_are_rejected_on_insert_and_update(
    sdb: Conn, organizations: tuple[Ids, Ids], rules: dict[str, Any], message: str
) -> None:
    a, _ = organizations
    row = {**valid_row("integration_mappings", a), "transformation_rules": Jsonb(rules)}
    with pytest.raises(errors.CheckViolation) as caught:
        insert_row(sdb, "integration_mappings", row)
    assert caught.value.diag.constraint_name == "transformation_rules_type"
    assert f"In mapping `{row['mapping_name']}`" in str(caught.value)
    assert message in str(caught.value)
    assert (
        _one(sdb, "SELECT count(*) AS n FROM integration_mappings WHERE mapping_name = %s", row["mapping_name"])["n"]
        == 0
    )

    before = _one(sdb, "SELECT transformation_rules, version FROM integration_mappings WHERE id = %s",
                  a["integration_mappings"])
    with pytest.raises(errors.CheckViolation, match="field `transformation_rules"):
        sdb.execute("UPDATE integration_mappings SET transformation_rules = %s WHERE id = %s",
                    (Jsonb(rules), a["integration_mappings"]))
    after = _one(sdb, "SELECT transformation_rules, version FROM integration_mappings WHERE id = %s",
                 a["integration_mappings"])
    assert after == before


# ---------------------------------------------------------------------------------------
# jsonb_deep_merge
# ---------------------------------------------------------------------------------------

MERGE_CASES = [
    ({"a": 1}, None, {"a": 1}),
    (None, {"a": 1}, {"a": 1}),
    ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ({"a": {"x": 1, "y": 2}}, {"a": {"y": 3, "z": 4}}, {"a": {"x": 1, "y": 3, "z": 4}}),
    ({"a": {"x": {"deep": 1}}}, {"a": {"x": {"deeper": 2}}}, {"a": {"x": {"deep": 1, "deeper": 2}}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": {"x": 1}}, {"a": "scalar"}, {"a": "scalar"}),
    ({"a": 1}, {"a": None}, {"a": None}),
    ({"a": 1}, [1], [1]),
]


@pytest.mark.parametrize(("left", "right", "expected"), MERGE_CASES)
def test_jsonb_deep_merge(sdb: Conn, left: Any, right: Any, expected: Any) -> None:
    to_json = lambda v: None if v is None else Jsonb(v)  # noqa: E731
    row = _one(sdb, "SELECT jsonb_deep_merge(%s::jsonb, %s::jsonb) AS m", to_json(left), to_json(right))
    assert row["m"] == expected
