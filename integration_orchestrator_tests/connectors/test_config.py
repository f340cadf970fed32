"""connection_config validation: every error names the row, the JSON path and the problem."""

from __future__ import annotations

from typing import Any

import pytest

from integration_orchestrator.connectors import (
    ConnectionConfigError,
    SecretResolutionError,
    iter_secret_refs,
    resolve_secrets,
    validate_connection_config,
)
from integration_orchestrator.errors import RowError

GOOD_TARGET = {"type": "file", "path": "out.ndjson"}
GOOD_SOURCE = {"type": "inline", "records": [{"a": 1}]}


def with_source(source: dict[str, Any]) -> dict[str, Any]:
    return {"source": source, "target": GOOD_TARGET}


def with_target(target: dict[str, Any]) -> dict[str, Any]:
    return {"source": GOOD_SOURCE, "target": target}


VALID = [
    with_source({"type": "inline", "records": []}),
    with_source({"type": "file", "path": "in.csv", "delimiter": ";"}),
    with_source({"type": "file", "path": "in.data", "format": "ndjson"}),
    with_source(
        {
            "type": "http",
            "url": "https://api.example.com/v1/items",
            "auth": {"type": "basic", "username": {"$secret": "user"}, "password": {"$secret": "pw"}},
            "headers": {"X-Tenant": "acme", "X-Token": {"$secret": "t"}},
            "pagination": {"style": "cursor", "cursor_path": "meta.next"},
            "rate_limit": {"requests_per_minute": 60},
            "retry": {"max_retries": 3, "backoff_seconds": 1, "jitter": True},
        }
    ),
    with_source(
        {
            "type": "postgres",
            "url": {"$secret": "warehouse_url"},
            "query": "SELECT 1 WHERE %(a)s",
            "params": {"a": True},
        }
    ),
    with_source({"type": "postgres", "url": "postgresql://reader@db.internal/warehouse", "query": "SELECT 1"}),
    with_target({"type": "postgres_table", "table": "orders", "mode": "upsert", "key": ["id"]}),
    with_target({"type": "postgres_table", "schema": "sales", "table": "orders", "mode": "replace"}),
    with_target({"type": "http", "url": "http://127.0.0.1:8000/in", "body": "ndjson"}),
]


@pytest.mark.parametrize("config", VALID, ids=range(len(VALID)))
def test_valid_configs_come_back_typed(config: dict[str, Any]) -> None:
    result = validate_connection_config(config, row_name="orders", row_id="r1")
    assert result.source.type == config["source"]["type"]
    assert result.target.type == config["target"]["type"]
    assert dict(result.source.config) == config["source"]


INVALID = [
    ("not an object", [], "connection_config", "must be of type object"),
    ("no target", {"source": GOOD_SOURCE}, "connection_config", "'target' is required"),
    (
        "unknown top key",
        {"source": GOOD_SOURCE, "target": GOOD_TARGET, "sink": {}},
        "connection_config",
        "unknown option(s) 'sink'",
    ),
    ("unknown source type", with_source({"type": "ftp"}), "connection_config.source.type", "unknown source type `ftp`"),
    (
        "unknown target type",
        with_target({"type": "inline", "records": []}),
        "connection_config.target.type",
        "unknown target type `inline`",
    ),
    ("type missing", with_source({"path": "x"}), "connection_config.source", "'type' is required"),
    (
        "unknown option",
        with_source({"type": "inline", "records": [], "recs": 1}),
        "connection_config.source",
        "unknown option(s) 'recs'",
    ),
    (
        "record not object",
        with_source({"type": "inline", "records": [{}, 3]}),
        "connection_config.source.records[1]",
        "must be of type object",
    ),
    (
        "file no format",
        with_source({"type": "file", "path": "in.xlsx"}),
        "connection_config.source.format",
        "is required",
    ),
    (
        "json append",
        with_target({"type": "file", "path": "o.json", "mode": "append"}),
        "connection_config.target.mode",
        "not possible",
    ),
    (
        "bad format",
        with_source({"type": "file", "path": "a", "format": "xml"}),
        "connection_config.source.format",
        "must be one of",
    ),
    ("http no url", with_source({"type": "http"}), "connection_config.source", "'url' is required"),
    (
        "http bad url",
        with_source({"type": "http", "url": "ftp://x"}),
        "connection_config.source.url",
        "must match the pattern",
    ),
    (
        "inline token",
        with_source({"type": "http", "url": "https://x", "auth": {"type": "bearer", "token": "hunter2"}}),
        "connection_config.source.auth.token",
        "secret reference",
    ),
    (
        "auth type",
        with_source({"type": "http", "url": "https://x", "auth": {"type": "oauth"}}),
        "connection_config.source.auth.type",
        "must be one of",
    ),
    (
        "api key no name",
        with_source({"type": "http", "url": "https://x", "auth": {"type": "api_key", "value": {"$secret": "k"}}}),
        "connection_config.source.auth",
        "'name' is required",
    ),
    (
        "offset no limit",
        with_source({"type": "http", "url": "https://x", "pagination": {"style": "offset"}}),
        "connection_config.source.pagination",
        "'limit' is required",
    ),
    (
        "pagination style",
        with_source({"type": "http", "url": "https://x", "pagination": {"style": "pages"}}),
        "connection_config.source.pagination.style",
        "must be one of",
    ),
    (
        "rate limit zero",
        with_source({"type": "http", "url": "https://x", "rate_limit": {"requests_per_second": 0}}),
        "connection_config.source.rate_limit.requests_per_second",
        "must be > 0",
    ),
    (
        "two rate limits",
        with_source(
            {"type": "http", "url": "https://x", "rate_limit": {"requests_per_second": 1, "requests_per_minute": 1}}
        ),
        "connection_config.source.rate_limit",
        "maxProperties",
    ),
    (
        "retry negative",
        with_source({"type": "http", "url": "https://x", "retry": {"max_retries": -1}}),
        "connection_config.source.retry.max_retries",
        "must be >= 0",
    ),
    (
        "pg password",
        with_source({"type": "postgres", "url": "postgresql://u:hunter2@h/db", "query": "SELECT 1"}),
        "connection_config.source.url",
        "holds a password",
    ),
    (
        "pg not url",
        with_source({"type": "postgres", "url": "mysql://h/db", "query": "SELECT 1"}),
        "connection_config.source.url",
        "postgresql://",
    ),
    ("pg no query", with_source({"type": "postgres"}), "connection_config.source", "'query' is required"),
    (
        "upsert no key",
        with_target({"type": "postgres_table", "table": "t", "mode": "upsert"}),
        "connection_config.target",
        "'key' is required",
    ),
    (
        "bad mode",
        with_target({"type": "postgres_table", "table": "t", "mode": "merge"}),
        "connection_config.target.mode",
        "must be one of",
    ),
    (
        "empty key",
        with_target({"type": "postgres_table", "table": "t", "key": []}),
        "connection_config.target.key",
        "must not be empty",
    ),
    (
        "bad secret ref",
        with_source({"type": "postgres", "url": {"$secret": "a", "x": 1}, "query": "q"}),
        "connection_config.source.url",
        "must be exactly",
    ),
    (
        "empty secret name",
        with_source({"type": "http", "url": "https://x", "auth": {"type": "bearer", "token": {"$secret": ""}}}),
        "connection_config.source.auth.token.$secret",
        "must not be empty",
    ),
    (
        "header value type",
        with_source({"type": "http", "url": "https://x", "headers": {"A": 5}}),
        "connection_config.source.headers.A",
        "does not match any allowed form",
    ),
]


@pytest.mark.parametrize(("case", "config", "path", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_configs_name_row_path_and_problem(case: str, config: Any, path: str, message: str) -> None:
    with pytest.raises(ConnectionConfigError) as info:
        validate_connection_config(config, row_name="orders", row_id="r1")
    error = info.value
    assert isinstance(error, RowError)
    assert error.field == path
    assert message in error.reason
    assert str(error).startswith(f"In integration config `orders` (id r1), field `{path}`: ")
    assert "hunter2" not in str(error)


def test_secret_refs_are_listed_and_resolved_once() -> None:
    config = {"a": {"$secret": "one"}, "b": [{"c": {"$secret": "one"}}, {"$secret": "two"}], "d": "plain"}
    assert list(iter_secret_refs(config)) == [("$.a", "one"), ("$.b[0].c", "one"), ("$.b[1]", "two")]
    calls: list[str] = []

    def resolver(name: str) -> str:
        calls.append(name)
        return name.upper()

    assert resolve_secrets(config, resolver) == {"a": "ONE", "b": [{"c": "ONE"}, "TWO"], "d": "plain"}
    assert calls == ["one", "two"]
    assert config["a"] == {"$secret": "one"}  # the input is not modified


def test_resolver_errors_name_secret_and_path() -> None:
    def resolver(name: str) -> str:
        raise LookupError(f"no secret {name}")

    with pytest.raises(SecretResolutionError) as info:
        resolve_secrets({"auth": {"token": {"$secret": "tok"}}}, resolver, path="connection_config.source")
    assert info.value.name == "tok"
    assert info.value.path == "connection_config.source.auth.token"
    assert "no secret tok" in str(info.value)
