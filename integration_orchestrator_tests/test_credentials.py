"""Encrypted credentials: set/get/list/rotate with two keys, clear errors, the real CLI."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet

from integration_orchestrator.connectors import SecretResolutionError, open_source
from integration_orchestrator.credentials import (
    KEYS_ENV,
    SecretError,
    get_secret,
    list_secrets,
    load_keyring,
    rotate_secrets,
    secret_resolver,
    set_secret,
)
from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.errors import ConfigurationError
from integration_orchestrator_tests.rows import add_config, add_organization

K1 = Fernet.generate_key().decode()
K2 = Fernet.generate_key().decode()
PLAINTEXT = "s3cret-value-that-must-never-be-stored"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Any:
    def use(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv(KEYS_ENV, raising=False)
        else:
            monkeypatch.setenv(KEYS_ENV, value)

    use(f"k1:{K1}")
    return use


@pytest.fixture
def org(db: psycopg.Connection[dict[str, Any]]) -> dict[str, Any]:
    org_id, other = add_organization(db, "Acme"), add_organization(db, "Other")
    configs = {name: add_config(db, owner, name, integration_type="rest", connection_config={})
               for name, owner in (("orders_sync", org_id), ("crm_sync", org_id), ("other_sync", other))}
    return {"id": org_id, "other": other, "configs": configs}


def raw_rows(db: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return db.execute(
        "SELECT name, ciphertext, key_id, rotated_at FROM integration_credentials ORDER BY name"
    ).fetchall()


def test_set_get_list_and_config_fallback(db: Any, org: dict[str, Any], keys: Any) -> None:
    orders = org["configs"]["orders_sync"]
    set_secret(db, "api_token", "org-wide", organization_id=org["id"])
    info = set_secret(db, "api_token", PLAINTEXT, organization_id=org["id"], config_id=orders)
    assert (info.name, info.key_id, info.config_name, info.rotated_at) == ("api_token", "k1", "orders_sync", None)
    assert get_secret(db, "api_token", organization_id=org["id"], config_id=orders) == PLAINTEXT
    crm = org["configs"]["crm_sync"]
    assert get_secret(db, "api_token", organization_id=org["id"], config_id=crm) == "org-wide"
    set_secret(db, "api_token", "changed", organization_id=org["id"], config_id=orders)
    assert get_secret(db, "api_token", organization_id=org["id"], config_id=orders) == "changed"
    listed = list_secrets(db, organization_id=org["id"])
    assert [(i.name, i.config_name, i.key_id) for i in listed] == [
        ("api_token", None, "k1"),
        ("api_token", "orders_sync", "k1"),
    ]
    assert all(PLAINTEXT.encode() not in bytes(r["ciphertext"]) for r in raw_rows(db))


def test_rotation_with_two_keys(db: Any, org: dict[str, Any], keys: Any) -> None:
    for index, name in enumerate(["a", "b", "c"]):
        set_secret(db, name, f"value-{index}", organization_id=org["id"])
    before = {r["name"]: bytes(r["ciphertext"]) for r in raw_rows(db)}
    keys(f"k2:{K2},k1:{K1}")
    assert get_secret(db, "a", organization_id=org["id"]) == "value-0"  # old key still readable
    set_secret(db, "d", "value-3", organization_id=org["id"])
    assert rotate_secrets(db) == 4
    rows = raw_rows(db)
    assert {r["key_id"] for r in rows} == {"k2"}
    assert all(r["rotated_at"] is not None for r in rows)
    assert all(bytes(r["ciphertext"]) != before[r["name"]] for r in rows if r["name"] in before)
    keys(f"k2:{K2}")  # the old key can go once everything is rotated
    assert [get_secret(db, n, organization_id=org["id"]) for n in "abcd"] == [
        "value-0",
        "value-1",
        "value-2",
        "value-3",
    ]
    assert [i.rotated_at is not None for i in list_secrets(db)] == [True] * 4


def test_rotation_is_all_or_nothing(db: Any, org: dict[str, Any], keys: Any) -> None:
    set_secret(db, "good", "v1", organization_id=org["id"])
    keys(f"k9:{Fernet.generate_key().decode()}")
    set_secret(db, "orphan", "v2", organization_id=org["id"])  # under a key that will be lost
    keys(f"k2:{K2},k1:{K1}")
    with pytest.raises(SecretError, match=r"Secret `orphan`.*encrypted with key `k9`, which is not in"):
        rotate_secrets(db)
    assert {r["name"]: (r["key_id"], r["rotated_at"]) for r in raw_rows(db)} == {
        "good": ("k1", None),
        "orphan": ("k9", None),
    }


@pytest.mark.parametrize(
    ("stored_under", "configured", "message"),
    [
        ("k1", None, f"Secret `api_token` .*{KEYS_ENV} is not set"),
        ("k1", f"k2:{K2}", "encrypted with key `k1`, which is not in .* \\(configured: k2\\)"),
        ("k1", "k1:" + Fernet.generate_key().decode(), "no configured key can decrypt it .*key `k1`"),
    ],
    ids=["no keys", "key removed", "wrong key under the same id"],
)
def test_unreadable_secret_errors_name_it(
    db: Any, org: dict[str, Any], keys: Any, stored_under: str, configured: str | None, message: str
) -> None:
    set_secret(db, "api_token", PLAINTEXT, organization_id=org["id"])
    keys(configured)
    with pytest.raises(SecretError, match=message) as info:
        get_secret(db, "api_token", organization_id=org["id"])
    assert PLAINTEXT not in str(info.value)


def test_missing_secret_names_it(db: Any, org: dict[str, Any], keys: Any) -> None:
    with pytest.raises(
        SecretError, match=r"Secret `nope` \(config .*\): is not set for this config or its organization"
    ):
        get_secret(db, "nope", organization_id=org["id"], config_id=org["configs"]["orders_sync"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "is not set"),
        ("k1", "entry 1 is not `id:key`"),
        ("k1:short", "key `k1` is not a valid Fernet key"),
        (f"k1:{K1},k1:{K2}", "appears twice"),
    ],
    ids=["empty", "no colon", "short key", "duplicate id"],  # stable ids: the keys are random per process
)
def test_malformed_key_settings(value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        load_keyring({KEYS_ENV: value})
    assert K2 not in str(info.value)


def test_resolver_reads_as_the_tenant_and_feeds_connectors(
    database_url: str, db: Any, org: dict[str, Any], keys: Any
) -> None:
    with tenant_transaction(db, org["id"]):
        set_secret(db, "warehouse_url", database_url, organization_id=org["id"])
    set_secret(db, "theirs", "x", organization_id=org["other"])
    resolve = secret_resolver(database_url, org["id"], org["configs"]["orders_sync"])
    source = open_source({"type": "postgres", "url": {"$secret": "warehouse_url"}, "query": "SELECT 1 AS one"}, resolve)
    assert list(source.read()) == [[{"one": 1}]]
    # another organization's secret is invisible through row-level security
    with pytest.raises(
        SecretResolutionError, match=r"Secret `theirs` \(referenced at `connection_config.source.url`\).*is not set"
    ):
        open_source({"type": "postgres", "url": {"$secret": "theirs"}, "query": "SELECT 1"}, resolve)


def test_cli_set_list_rotate(run_cli: Any, db: Any, org: dict[str, Any]) -> None:
    env = {KEYS_ENV: f"k1:{K1}"}
    done = run_cli("secrets", "set", "orders_sync", "api_token", input=PLAINTEXT + "\n", env=env)
    assert done.returncode == 0, done.stderr
    assert "stored secret `api_token`" in done.stdout and "key `k1`" in done.stdout
    org_wide = run_cli("secrets", "set", str(org["configs"]["crm_sync"]), "shared", "--org-wide", input="v", env=env)
    assert org_wide.returncode == 0, org_wide.stderr
    stored = raw_rows(db)
    assert [r["name"] for r in stored] == ["api_token", "shared"]
    assert all(PLAINTEXT.encode() not in bytes(r["ciphertext"]) for r in stored)
    assert (
        db.execute(
            "SELECT count(*) AS n FROM integration_credentials WHERE ciphertext::text LIKE %s", (f"%{PLAINTEXT}%",)
        ).fetchone()["n"]
        == 0
    )
    keyring = load_keyring({KEYS_ENV: f"k1:{K1}"})
    assert keyring.decrypt(stored[0]["ciphertext"], "k1", "api_token") == PLAINTEXT  # exactly, trailing newline removed

    listing = run_cli("secrets", "list", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "api_token" in listing.stdout and "orders_sync" in listing.stdout and "(organization-wide)" in listing.stdout
    assert PLAINTEXT not in listing.stdout + listing.stderr

    rotated = run_cli("secrets", "rotate", env={KEYS_ENV: f"k2:{K2},k1:{K1}"})
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 2 secret(s) under key `k2`" in rotated.stdout
    assert {r["key_id"] for r in raw_rows(db)} == {"k2"}
    assert (
        get_secret(
            db,
            "api_token",
            organization_id=org["id"],
            config_id=org["configs"]["orders_sync"],
            keyring=load_keyring({KEYS_ENV: f"k2:{K2}"}),
        )
        == PLAINTEXT
    )


@pytest.mark.parametrize(
    ("args", "stdin", "env_keys", "message"),
    [
        (
            ("secrets", "set", "missing_cfg", "x"),
            "v",
            f"k1:{K1}",
            "no integration config with id or integration_name `missing_cfg`",
        ),
        (("secrets", "set", "orders_sync", "x"), "", f"k1:{K1}", "the value is empty"),
        (("secrets", "set", "orders_sync", "bad name"), "v", f"k1:{K1}", "a secret name starts with"),
        (("secrets", "set", "orders_sync", "x"), "v", "", f"{KEYS_ENV} is not set"),
        (("secrets", "rotate"), None, "", f"{KEYS_ENV} is not set"),
    ],
    ids=["unknown config", "empty value", "bad name", "no keys (set)", "no keys (rotate)"],
)
def test_cli_bad_input_exits_2(
    run_cli: Any, db: Any, org: dict[str, Any], args: tuple[str, ...], stdin: str | None, env_keys: str, message: str
) -> None:
    done = run_cli(*args, input=stdin, env={KEYS_ENV: env_keys})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr
    assert raw_rows(db) == []


def test_cli_keygen_prints_a_ready_entry_and_how_to_add_it(run_cli: Any) -> None:
    done = run_cli("secrets", "keygen")
    assert done.returncode == 0
    entry = done.stdout.strip()
    key_id = entry.partition(":")[0]
    assert re.fullmatch(r"k\d{8}t\d{4}", key_id), entry  # from the date and time (UTC)
    assert load_keyring({KEYS_ENV: f"{entry},k0:{Fernet.generate_key().decode()}"}).newest_id == key_id
    assert f'export {KEYS_ENV}="{entry},${KEYS_ENV}"' in done.stderr
    assert "secrets rotate" in done.stderr
