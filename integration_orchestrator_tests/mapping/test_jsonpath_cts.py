"""The chosen JSONPath library and our singular-path compilation against the RFC 9535 CTS.

Data: ``integration_orchestrator_tests/data/jsonpath_cts_subset.json``, a representative
subset (265 tests, every category) of the JSONPath Compliance Test Suite (see its
``source``). Each valid selector is evaluated both by python-jsonpath (strict mode) and
through :func:`compile_path` (which uses key tuples for singular paths); each invalid
selector must be rejected by both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonpath
import pytest

from integration_orchestrator.mapping.paths import MISSING, PathSyntaxError, compile_path

CTS = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "jsonpath_cts_subset.json").read_text(encoding="utf-8")
)
ENV = jsonpath.JSONPathEnvironment(strict=True)


def _ours(selector: str, document: Any) -> list[Any]:
    compiled = compile_path(selector)
    value = compiled.read(document)
    if value is MISSING:
        return []
    return [value] if compiled.singular else value


@pytest.mark.parametrize("case", CTS["tests"], ids=[t["name"] for t in CTS["tests"]])
def test_compliance(case: dict[str, Any]) -> None:
    selector = case["selector"]
    if case.get("invalid_selector"):
        with pytest.raises(jsonpath.JSONPathError):
            ENV.compile(selector)
        with pytest.raises(PathSyntaxError):
            compile_path(selector)
        return
    assert ENV.findall(selector, case["document"]) == case["result"]
    assert _ours(selector, case["document"]) == case["result"]


def test_subset_covers_every_category() -> None:
    categories = {t["name"].split(",")[0] for t in CTS["tests"]}
    assert categories == {
        "basic",
        "filter",
        "index selector",
        "name selector",
        "slice selector",
        "functions",
        "whitespace",
    }
    assert len(CTS["tests"]) == 265
