"""Wait until the database accepts connections. docker/entrypoint.sh runs it before starting a role."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from semrec.ops.database import StartupError, describe_database, wait_for_database


class Command(BaseCommand):
    help = _("Wait until the database accepts connections, retrying once a second.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--timeout", type=float, default=60.0, help=_("Seconds to keep retrying before failing (default 60).")
        )

    def handle(self, *args, **options):
        if options["timeout"] <= 0:
            raise CommandError(
                _("--%(option)s must be a positive number of seconds, not %(value)s.")
                % {"option": "timeout", "value": options["timeout"]}
            )
        try:
            attempts = wait_for_database(options["timeout"])
        except StartupError as err:
            raise CommandError(str(err)) from err
        self.stdout.write(_("The %(database)s accepted a connection (attempt %(attempt)d).") % {"database": describe_database(), "attempt": attempts})
