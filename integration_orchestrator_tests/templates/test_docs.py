"""Template documentation: the docs/reference.md table and ``templates show`` text."""

from __future__ import annotations

from integration_orchestrator.templates.docs import catalog_table, describe, source_summary, target_shape
from integration_orchestrator.templates.library import builtin_template_paths
from integration_orchestrator.templates.model import load_template_file, parse_template
from integration_orchestrator_tests.templates.helpers import minimal_template


def test_catalog_table_has_one_row_per_template() -> None:
    documents = [load_template_file(p) for p in builtin_template_paths()]
    table = catalog_table(documents).splitlines()
    assert table[0] == "| Template | Version | Category | Source | Target shape |"
    assert len(table) == 2 + len(documents)
    jira = next(line for line in table if line.startswith("| `jira_risk_register`"))
    assert (
        "| 1.0.0 | compliance | http GET https://example.atlassian.net/rest/api/3/search, offset pagination, basic auth"
        in jira
    )
    assert "`risk_register`: risk_id, jira_id" in jira


def test_describe_and_summaries() -> None:
    document = parse_template(minimal_template(), source="x")
    assert source_summary(document) == "inline"
    assert target_shape(document)[0] == ("person_id", "any", "")
    text = describe(document)
    assert "tiny_people 1.0.0 (custom, inline)" in text and "certified: no" in text
    assert "  person_id              $.id -> person_id" in text
    assert text.endswith("tests: 2 mapping tests, 0 transformation cases")
