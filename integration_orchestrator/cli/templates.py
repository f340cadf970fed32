"""``templates list | install | show | instantiate | test | export | upgrade | deploy | deprecate``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from integration_orchestrator.cli import EXIT_FAILED, EXIT_OK
from integration_orchestrator.db import connect, resolve_database_url

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = subparsers.add_parser("templates", help="the template library")
    commands = group.add_subparsers(dest="templates_command", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="installed templates: name, version, category, certified")
    _organization(listing, "also list this organization's own templates")
    listing.set_defaults(handler=_list)

    install = commands.add_parser("install", help="install the built-in templates, or one file (idempotent)")
    install.add_argument("--file", type=Path, action="append", help="a template file (YAML/JSON); repeatable")
    _organization(install, "install as this organization's own template (default: system template)")
    install.set_defaults(handler=_install)

    inst = commands.add_parser("instantiate", help="create an integration from a template")
    inst.add_argument("template", metavar="NAME")
    inst.add_argument("--version", default=None, help="template version (default: newest)")
    inst.add_argument("--name", required=True, help="name of the new integration / instance")
    inst.add_argument("--customizations", default="{}", help='JSON: {"connection": {...}, "mappings": {...}}')
    inst.add_argument("--created-by", default=None, help="user id recorded as creator")
    _organization(inst, "organization that owns the instance (default: the only one)")
    inst.set_defaults(handler=_instantiate)

    show = commands.add_parser("show", help="a template's documentation: source, prerequisites, target shape, mappings")
    show.add_argument("template", metavar="NAME")
    show.add_argument("--version", default=None)
    _organization(show, "look the template up as this organization")
    show.set_defaults(handler=_show)

    test = commands.add_parser("test", help="run a template's test suite; certifies it when it passes")
    test.add_argument("template", metavar="NAME")
    test.add_argument("--version", default=None)
    _organization(test, "look the template up as this organization")
    test.set_defaults(handler=_test)

    export = commands.add_parser("export", help="write a template as a file another installation can install")
    export.add_argument("template", metavar="NAME")
    export.add_argument("--version", default=None)
    export.add_argument("--output", "-o", type=Path, default=None, help="file to write (default: stdout)")
    _organization(export, "look the template up as this organization")
    export.set_defaults(handler=_export)

    upgrade = commands.add_parser("upgrade", help="move an instance to another template version")
    upgrade.add_argument("instance", metavar="INSTANCE", help="instance id or name")
    upgrade.add_argument("--to", required=True, metavar="VERSION")
    upgrade.add_argument("--dry-run", action="store_true", help="show the diff only")
    _organization(upgrade, "organization of the instance (default: the only one)")
    upgrade.set_defaults(handler=_upgrade)

    deploy = commands.add_parser("deploy", help="run an instance's tests: draft/testing -> active when they pass")
    deploy.add_argument("instance", metavar="INSTANCE")
    _organization(deploy, "organization of the instance (default: the only one)")
    deploy.set_defaults(handler=_deploy)

    deprecate = commands.add_parser("deprecate", help="mark an instance deprecated (its integration is deactivated)")
    deprecate.add_argument("instance", metavar="INSTANCE")
    _organization(deprecate, "organization of the instance (default: the only one)")
    deprecate.set_defaults(handler=_deprecate)


def _organization(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--organization", default=None, metavar="ORG",
        help=f"id, slug or name: {help_text} (default: $INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID)",
    )


def _connection(args: argparse.Namespace) -> Any:
    return connect(resolve_database_url(args.database_url), autocommit=True)


def _org(conn: Any, args: argparse.Namespace) -> UUID:
    from integration_orchestrator.cli._organization import reference_or_environment
    from integration_orchestrator.templates.instantiate import resolve_organization

    return resolve_organization(conn, reference_or_environment(conn, args.organization))


def _org_or_none(conn: Any, args: argparse.Namespace) -> UUID | None:
    from integration_orchestrator.cli._organization import reference_or_environment

    return None if reference_or_environment(conn, args.organization) is None else _org(conn, args)


def _list(args: argparse.Namespace) -> int:
    from integration_orchestrator.templates.library import list_templates

    with _connection(args) as conn:
        rows = list_templates(conn, _org_or_none(conn, args))
    table = [("NAME", "VERSION", "CATEGORY", "CERTIFIED", "OWNER", "ACTIVE")]
    for r in rows:
        certified = f"yes ({r['certification_date']})" if r["is_certified"] else "no"
        table.append(
            (r["template_name"], r["version"], str(r["template_category"]), certified,
             "system" if r["organization_id"] is None else str(r["organization_id"]), "yes" if r["is_active"] else "no")
        )
    _print_table(table)
    print(f"{len(rows)} template(s)")
    return EXIT_OK


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _install(args: argparse.Namespace) -> int:
    from integration_orchestrator.templates.library import builtin_template_paths, install_files

    failed = False
    with _connection(args) as conn:
        org = _org_or_none(conn, args)
        for outcome in install_files(conn, args.file or builtin_template_paths(), organization_id=org):
            certified = "certified" if outcome.certified else "NOT certified"
            print(f"{outcome.status:9} {outcome.template_name} {outcome.version} ({certified}; "
                  f"tests {outcome.suite.passed_count}/{outcome.suite.total})")
            for failure in outcome.suite.failures:
                print(f"    FAIL {failure.describe()}")
            failed = failed or not outcome.suite.passed
    return EXIT_FAILED if failed else EXIT_OK


def _parse_json(text: str, option: str) -> Any:
    from integration_orchestrator.errors import RowError

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowError("option", option, f"not valid JSON: {exc.msg} at column {exc.colno}") from exc


def _instantiate(args: argparse.Namespace) -> int:
    from integration_orchestrator.templates.instantiate import instantiate_template

    customizations = _parse_json(args.customizations, "--customizations")
    with _connection(args) as conn:
        org = _org(conn, args)
        instance = instantiate_template(
            conn,
            template_name=args.template,
            version=args.version,
            instance_name=args.name,
            customizations=customizations,
            organization_id=org,
            created_by=args.created_by,
        )
    print(f"instance {instance.id} `{instance.instance_name}` from {instance.template_name} {instance.version}")
    print(f"integration config {instance.config_id} (status {instance.deployment_status})")
    return EXIT_OK


def _test(args: argparse.Namespace) -> int:
    from integration_orchestrator.templates.library import certify_template

    with _connection(args) as conn:
        result = certify_template(conn, args.template, args.version, _org_or_none(conn, args))
    suite, row = result.suite, result.row
    for outcome in suite.outcomes:
        print(f"{'PASS' if outcome.passed else 'FAIL'}  {outcome.describe()}")
    if suite.coverage:
        shares = ", ".join(f"{name} {share}%" for name, share in suite.coverage.items())
        print(f"coverage by mapping: {shares}")
    state = f"certified on {result.certification_date}" if result.is_certified else "not certified"
    print(f"{row['template_name']} {row['version']}: {suite.passed_count}/{suite.total} passed; {state}")
    return EXIT_OK if suite.passed else EXIT_FAILED


def _show(args: argparse.Namespace) -> int:
    from integration_orchestrator.templates.docs import describe
    from integration_orchestrator.templates.library import document_from_row, find_template

    with _connection(args) as conn:
        row = find_template(conn, args.template, args.version, _org_or_none(conn, args))
    print(describe(document_from_row(row), certified=row["certification_date"] if row["is_certified"] else None))
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from integration_orchestrator.templates.library import export_template, find_template

    with _connection(args) as conn:
        row = find_template(conn, args.template, args.version, _org_or_none(conn, args))
    text = export_template(row)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {row['template_name']} {row['version']} to {args.output}")
    return EXIT_OK


def _upgrade(args: argparse.Namespace) -> int:
    from integration_orchestrator.templates.upgrade import upgrade_instance

    with _connection(args) as conn:
        org = _org(conn, args)
        result = upgrade_instance(conn, args.instance, args.to, org, dry_run=args.dry_run)
    print(f"instance `{result.instance.instance_name}`: {result.instance.template_name} " + result.diff.lines()[0])
    for line in result.diff.lines()[1:]:
        print(line)
    if not result.applied:
        print("dry run: nothing changed")
        return EXIT_OK
    return _report_deployment(result.deployment)


def _report_deployment(deployment: Any) -> int:
    for outcome in deployment.outcomes:
        if not outcome.passed:
            print(f"FAIL  {outcome.describe()}")
    print(f"tests {deployment.passed_count}/{deployment.total} passed; deployment_status {deployment.status}")
    return EXIT_OK if deployment.passed else EXIT_FAILED


def _deploy(args: argparse.Namespace) -> int:
    from integration_orchestrator.templates.lifecycle import deploy_instance

    with _connection(args) as conn:
        org = _org(conn, args)
        deployment = deploy_instance(conn, args.instance, org)
    return _report_deployment(deployment)


def _deprecate(args: argparse.Namespace) -> int:
    from integration_orchestrator.templates.lifecycle import deprecate_instance

    with _connection(args) as conn:
        org = _org(conn, args)
        instance = deprecate_instance(conn, args.instance, org)
    print(f"instance `{instance.instance_name}` is deprecated; its integration is inactive")
    return EXIT_OK
