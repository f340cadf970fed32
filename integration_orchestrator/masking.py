"""Masking: secret values and sensitive fields never leave a run in clear.

What is sensitive:

* **secret values** — every ``{"$secret": name}`` resolved in this process is registered
  (:func:`register_secret`, called by the factory's secret resolver); any text or record
  value containing one is redacted to ``***`` (also its URL-quoted form);
* **sensitive-looking keys** — ``password``, ``secret``, ``token``, ``api_key``,
  ``authorization``, ``ssn``, ``credit_card``, ``iban`` (:data:`SENSITIVE_KEY`);
* **declared fields** — the pipeline's ``monitoring_config.mask_fields`` (JSONPaths such
  as ``$.person.ssn``, ``$.items[*].card``, or dotted ``person.ssn``) and every mapping
  whose ``validation_rules`` has ``"mask": true`` (its ``source_path`` in input records
  and its ``target_path`` in output records).

:class:`Masker` applies all three to records (previews, dead letters) and text (log
lines, error messages). Dead letters keep the masked fields *encrypted* rather than
dropped (:func:`seal_record` / :func:`unseal_record`, Fernet keys of the credentials
module), so replay restores the original record. Walks are iterative: a hostile,
deeply nested record cannot exhaust the stack.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from integration_orchestrator.errors import MaskedError
from integration_orchestrator.paths import WILDCARD, Keys, PathSyntaxError, dotted_to_jsonpath, wildcard_keys

if TYPE_CHECKING:
    from integration_orchestrator.credentials import Keyring
    from integration_orchestrator.history import FieldChange

__all__ = [
    "MASK",
    "MASK_OPTION",
    "MIN_SECRET_LENGTH",
    "SEALED_KEY",
    "SENSITIVE_KEY",
    "Masker",
    "clear_registered_secrets",
    "load_keyring_or_none",
    "mask_change",
    "mask_paths",
    "mask_preview_report",
    "masked_errors",
    "masker_for",
    "parse_path",
    "protect_failures",
    "redact_text",
    "register_secret",
    "registered_secrets",
    "seal_record",
    "unseal_record",
]

MASK = "***"
#: the mapping-level option: ``validation_rules: {"mask": true}``
MASK_OPTION = "mask"
#: shorter values are not redacted inside text (they would mask unrelated characters)
MIN_SECRET_LENGTH = 4
#: a sealed (encrypted) dead-letter field: ``{"$sealed": token, "key_id": id}``
SEALED_KEY = "$sealed"
SENSITIVE_KEY = re.compile(r"pass(word)?|secret|token|api[_-]?key|authorization|ssn|credit[_-]?card|iban", re.I)

_lock = threading.Lock()
_secrets: set[str] = set()

Path = Keys


def register_secret(value: object) -> None:
    """Remember a resolved secret value so that it is redacted wherever it shows up."""
    if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def registered_secrets() -> frozenset[str]:
    with _lock:
        return frozenset(_secrets)


def clear_registered_secrets() -> None:
    with _lock:
        _secrets.clear()


def redact_text(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every secret value (and its URL-quoted forms) replaced by ``***``."""
    values = registered_secrets() if secrets is None else frozenset(secrets)
    for value in sorted(values, key=len, reverse=True):
        for form in {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}:
            if form and form in text:
                text = text.replace(form, MASK)
    return text


def parse_path(path: str) -> Path:
    """``$.a.b[0]['c d'][*]`` or dotted ``a.b[0]`` → ``("a", "b", 0, "c d", "*")``.

    The grammar is the package's one (:mod:`integration_orchestrator.paths`), read
    leniently: surrounding white space is ignored, and a ``$.`` path whose names RFC 9535
    shorthand refuses (``$.1st``, ``$.$oid``) is read as dotted shorthand after the ``$.``.
    Paths selecting more than names, indexes and wildcards (descendants, slices,
    filters) cannot name fields to mask and are refused.
    """
    text = path.strip()
    try:
        return wildcard_keys(text)
    except PathSyntaxError as exc:
        error = exc
    if text.startswith("$."):
        with suppress(PathSyntaxError):
            return wildcard_keys(dotted_to_jsonpath(text[2:]))
    raise ValueError(f"not a JSONPath/dotted path: {path!r} ({error})")


def mask_paths(paths: Iterable[str]) -> tuple[Path, ...]:
    """Parsed paths; an unparsable one is ignored here (validation reports it on the row)."""
    parsed: list[Path] = []
    for path in paths:
        try:
            parsed.append(parse_path(str(path)))
        except ValueError:
            continue
    return tuple(p for p in parsed if p)


def _step_matches(pattern: str | int, key: str | int) -> bool:
    return pattern in (WILDCARD, key) or (isinstance(key, int) and str(pattern) == str(key))


@dataclass(frozen=True)
class Masker:
    """Masks records and text for one integration (see the module docstring)."""

    paths: tuple[Path, ...] = ()
    secrets: frozenset[str] | None = None  # None: the process-wide registry
    mask_sensitive_keys: bool = True
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_fields(cls, mask_fields: Iterable[str] = ()) -> Masker:
        return cls(paths=mask_paths(mask_fields))

    def _secrets(self) -> frozenset[str]:
        return registered_secrets() if self.secrets is None else self.secrets

    def may_hold_masked(self, text: str) -> bool:
        """Whether raw text (a source line that could not be parsed, so has no fields) may
        hold a secret or a masked field's value: it shows a secret, a sensitive-looking key,
        or the integration masks fields at all."""
        return (
            any(secret in text for secret in self._secrets())
            or (self.mask_sensitive_keys and SENSITIVE_KEY.search(text) is not None)
            or bool(self.paths)
        )

    def with_fields(self, *mask_fields: str) -> Masker:
        """This masker masking ``mask_fields`` too."""
        return Masker(paths=self.paths + mask_paths(mask_fields), secrets=self.secrets,
                      mask_sensitive_keys=self.mask_sensitive_keys)

    def text(self, text: str) -> str:
        """``text`` with secret values redacted."""
        return redact_text(text, self._secrets())

    def text_for(self, text: str, *records: Any) -> str:
        """``text`` with secret values and the values of ``records``' masked fields redacted."""
        values = set(self._secrets())
        for record in records:
            values |= self.masked_values(record)
        return redact_text(text, values)

    def masked_values(self, record: Any) -> set[str]:
        """The scalar values (as text, long enough to redact) found under masked fields."""
        found: set[str] = set()

        def collect(_path: Path, value: Any) -> str:
            stack = [value]
            while stack:
                item = stack.pop()
                if isinstance(item, Mapping):
                    stack.extend(item.values())
                elif isinstance(item, list):
                    stack.extend(item)
                elif item is not None and not isinstance(item, bool) and len(str(item)) >= MIN_SECRET_LENGTH:
                    found.add(str(item))
            return MASK

        replace(self, secrets=frozenset())._walk(record, collect)
        return found

    def is_masked(self, path: Path) -> bool:
        return self._masked_at(path, path[-1] if path else None)

    def _masked_at(self, path: Path | None, key: Any) -> bool:
        """``path`` is None below the deepest declared path: only the key can match there."""
        if self.mask_sensitive_keys and isinstance(key, str) and SENSITIVE_KEY.search(key):
            return True
        return path is not None and any(
            len(p) == len(path) and all(map(_step_matches, p, path)) for p in self.paths
        )

    def record(self, record: Any) -> Any:
        """A masked copy of ``record`` (iterative walk; the input is not modified)."""
        return self._walk(record, lambda _path, _value: MASK)

    def _walk(self, record: Any, replace_value: Any) -> Any:
        secrets = self._secrets()
        # Paths are tracked only as deep as the deepest declared path (below it only the
        # key can match), so the walk stays linear in the size of the record. A declared
        # path of plain names (``items.card``) also matches through lists (``items[3].card``):
        # ``names`` is the path without its list indexes.
        deepest = max((len(p) for p in self.paths), default=0)
        plain = {p for p in self.paths if all(isinstance(step, str) and step != WILDCARD for step in p)}
        root: list[Any] = [None]
        stack: list[tuple[Any, Path | None, Path | None, Any, int, list[Any] | dict[Any, Any], Any]] = [
            (record, (), (), None, 0, root, 0)
        ]
        while stack:
            value, path, names, key, depth, parent, slot = stack.pop()
            if depth and (self._masked_at(path, key) or (names is not None and names in plain)):
                parent[slot] = replace_value(path or (), value)
            elif isinstance(value, Mapping):
                copy: dict[Any, Any] = {}
                parent[slot] = copy
                for child_key, item in value.items():
                    copy[child_key] = None
                    name = str(child_key)
                    child = (*path, name) if path is not None and depth < deepest else None
                    child_names = (*names, name) if names is not None and len(names) < deepest else None
                    stack.append((item, child, child_names, name, depth + 1, copy, child_key))
            elif isinstance(value, list):
                items: list[Any] = [None] * len(value)
                parent[slot] = items
                for index, item in enumerate(value):
                    child = (*path, index) if path is not None and depth < deepest else None
                    stack.append((item, child, names if plain else None, index, depth + 1, items, index))
            elif isinstance(value, str) and secrets:
                parent[slot] = redact_text(value, secrets)
            else:
                parent[slot] = value
        return root[0]

    def seal(self, record: Any, keyring: Keyring) -> Any:
        """A copy of ``record`` whose masked fields are encrypted (see :func:`unseal_record`)."""
        import orjson

        def sealed(_path: Path, value: Any) -> dict[str, str]:
            token, key_id = keyring.encrypt(orjson.dumps(value, default=str).decode())
            return {SEALED_KEY: token.decode("ascii"), "key_id": key_id}

        secrets = self._secrets()
        masker = replace(self, secrets=frozenset())  # strings are sealed field by field, not redacted
        out = masker._walk(record, sealed)
        if secrets:  # a secret value inside an unmasked field: seal that whole field
            out = _seal_strings(out, secrets, sealed)
        return out


def _seal_strings(record: Any, secrets: frozenset[str], sealed: Any) -> Any:
    root: list[Any] = [record]
    stack: list[tuple[Any, list[Any] | dict[Any, Any], Any]] = [(record, root, 0)]
    while stack:
        value, parent, slot = stack.pop()
        if isinstance(value, Mapping) and SEALED_KEY not in value:
            for key, item in value.items():
                stack.append((item, value, key))  # type: ignore[arg-type]  # records are JSON: mappings are dicts
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((item, value, index))
        elif isinstance(value, str) and redact_text(value, secrets) != value:
            parent[slot] = sealed((), value)
    return root[0]


def seal_record(record: Any, masker: Masker, keyring: Keyring) -> Any:
    """``record`` with every masked field (and any field holding a secret) encrypted."""
    return masker.seal(record, keyring)


def unseal_record(record: Any, keyring: Keyring | None) -> Any:
    """The original record of :func:`seal_record` (sealed fields decrypted).

    ``keyring`` may be None while the record has no sealed field (else a clear error).
    """
    import orjson

    from integration_orchestrator.errors import ConfigurationError

    root: list[Any] = [None]
    stack: list[tuple[Any, list[Any] | dict[Any, Any], Any]] = [(record, root, 0)]
    while stack:
        value, parent, slot = stack.pop()
        if isinstance(value, Mapping) and SEALED_KEY in value and set(value) == {SEALED_KEY, "key_id"}:
            if keyring is None:
                raise ConfigurationError(
                    "a dead-letter record has encrypted (masked) fields: set INTEGRATION_ORCHESTRATOR_SECRET_KEYS "
                    "to the keys it was sealed with to replay it")
            clear = keyring.decrypt(str(value[SEALED_KEY]).encode("ascii"), str(value["key_id"]), "dead-letter field")
            parent[slot] = orjson.loads(clear)
        elif isinstance(value, Mapping):
            copy: dict[Any, Any] = {}
            parent[slot] = copy
            for key, item in value.items():
                stack.append((item, copy, key))
        elif isinstance(value, list):
            items: list[Any] = [None] * len(value)
            parent[slot] = items
            for index, item in enumerate(value):
                stack.append((item, items, index))
        else:
            parent[slot] = value
    return root[0]


def mask_change(change: FieldChange, masker: Masker | None = None) -> FieldChange:
    """A history :class:`~integration_orchestrator.history.FieldChange` with its values masked."""
    masker = masker or Masker()
    path = mask_paths([change.path])
    if path and masker.is_masked(path[0]):
        return replace(change, old=None if change.old is None else MASK, new=None if change.new is None else MASK)
    return replace(change, old=masker.record(change.old), new=masker.record(change.new))


def masker_for(integration: Any) -> Masker:
    """The masker of one integration (an ``Integration``): the pipeline's
    ``monitoring_config.mask_fields`` plus the source and target paths of every mapping
    whose ``validation_rules`` has ``"mask": true``."""
    paths: list[str] = []
    pipeline = getattr(integration, "pipeline", None)
    if pipeline is not None:
        fields = (pipeline.monitoring_config or {}).get("mask_fields") or []
        paths.extend(str(f) for f in fields if isinstance(f, str))
    for mapping in getattr(integration, "mappings", ()):
        rules = mapping.row.get("validation_rules") or {}
        if isinstance(rules, Mapping) and rules.get(MASK_OPTION) is True:
            paths.extend(str(mapping.row[k]) for k in ("source_path", "target_path") if mapping.row.get(k))
    return Masker(paths=mask_paths(paths))


def protect_failures(failures: Iterable[Any], masker: Masker, keyring: Keyring | None) -> list[Any]:
    """Failed records (``FailedRecord``) ready for ``integration_dead_letters``.

    Masked fields and fields holding a secret are sealed with ``keyring`` (replay
    unseals them); without a keyring they are masked for good and ``details["masked"]``
    says so. Messages and details are redacted.
    """
    out: list[Any] = []
    for failure in failures:
        message = masker.text_for(failure.message, failure.record)
        details = masker.record(dict(failure.details))
        details = {k: (masker.text_for(v, failure.record) if isinstance(v, str) else v) for k, v in details.items()}
        details = _redact_strings(details, masker, failure.record)
        if keyring is not None:
            record = masker.seal(failure.record, keyring)
        else:
            record = masker.record(failure.record)
            if record != failure.record:
                details["masked"] = "sensitive fields masked (no INTEGRATION_ORCHESTRATOR_SECRET_KEYS to seal them)"
        out.append(replace(failure, record=record, message=message, details=details))
    return out


def _redact_strings(value: Any, masker: Masker, record: Any) -> Any:
    values = set(masker._secrets()) | masker.masked_values(record)
    if not values:
        return value
    return Masker(secrets=frozenset(values), mask_sensitive_keys=False)._walk(value, lambda _p, v: v)


def _leaks(exc: BaseException, masker: Masker, records: tuple[Any, ...]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if masker.text_for(text, *records) != text:
            return True
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return False


@contextmanager
def masked_errors(masker: Masker, *records: Any) -> Iterator[None]:
    """Re-raise an error whose message (or a chained one) shows a secret or masked value
    as a :class:`~integration_orchestrator.errors.MaskedError` with the redacted message
    and no chain; other errors pass unchanged."""
    try:
        yield
    except Exception as exc:
        if not _leaks(exc, masker, records):
            raise
        clean = masker.text_for(str(exc), *records)
        raise MaskedError(f"{type(exc).__name__}: {clean}", metadata={"masked": True}) from None


def load_keyring_or_none() -> Keyring | None:
    """The credentials keyring, or None when ``INTEGRATION_ORCHESTRATOR_SECRET_KEYS`` is unset/invalid."""
    from integration_orchestrator.credentials import load_keyring
    from integration_orchestrator.errors import ConfigurationError

    try:
        return load_keyring()
    except ConfigurationError:
        return None


def mask_preview_report(report: dict[str, Any], masker: Masker) -> dict[str, Any]:
    """A ``pipeline preview`` report with every record and error message masked."""
    steps = []
    for step in report.get("steps", []):
        failed = [
            dict(
                f,
                record=masker.record(f.get("record")),
                error=masker.text_for(str(f.get("error", "")), f.get("record")),
            )
            for f in step.get("failed", [])
        ]
        steps.append(dict(step, failed=failed, output=[masker.record(r) for r in step.get("output", [])]))
    return dict(report, steps=steps, final_output=[masker.record(r) for r in report.get("final_output", [])])
