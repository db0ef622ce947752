from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.tenancy.auth import stored_admin_secret
from hector_site.flags import DATABASE_FLAGS, add_flags


class Command(BaseCommand):
    help = "Print the stored (auto-generated) admin secret of this database."

    def add_arguments(self, parser: CommandParser) -> None:
        add_flags(parser, DATABASE_FLAGS)

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.HECTOR_AUTH_SECRET:
            raise CommandError(
                "an explicit admin secret is configured (--auth-secret); it is not stored"
            )
        secret = stored_admin_secret()
        if secret is None:
            raise CommandError("no admin secret yet: run `hector serve` once to generate it")
        self.stdout.write(secret)
