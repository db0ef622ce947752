"""`hector migrate`: shared schema, every app schema, then the template apps are cloned from.

Per-app migrations run only when the template has unapplied migrations: apps are cloned from (or
were migrated along with) the template, so an up-to-date template means up-to-date apps. The
template is migrated last, so a run interrupted halfway is redone in full next time.
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_tenants.utils import schema_context, schema_exists

from apps.tenancy.schemas import migrate_template, template_schema
from hector_site.flags import DATABASE_FLAGS, add_flags


def template_is_current() -> bool:
    template = template_schema()
    if not schema_exists(template):
        return False
    with schema_context(template):
        executor = MigrationExecutor(connection)
        return not executor.migration_plan(executor.loader.graph.leaf_nodes())


def migrate_all(*, verbosity: int = 0, force_tenants: bool = False) -> None:
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
    if force_tenants or not template_is_current():
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=verbosity)
        migrate_template(verbosity=verbosity)


class Command(BaseCommand):
    help = "Apply shared and per-app migrations (wraps migrate_schemas)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_flags(parser, DATABASE_FLAGS)
        parser.add_argument("--all-apps", action="store_true", help="Migrate every app schema.")

    def handle(self, *args: Any, **options: Any) -> None:
        migrate_all(verbosity=options["verbosity"], force_tenants=options["all_apps"])
        self.stdout.write("migrations applied")
