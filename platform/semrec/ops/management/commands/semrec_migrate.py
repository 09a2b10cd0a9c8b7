"""Apply migrations once, however many replicas start at the same time."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from semrec.ops.database import StartupError, describe_database, migrate_once, wait_for_database


class Command(BaseCommand):
    help = _(
        "Wait for the database, take a PostgreSQL advisory lock and apply pending migrations. "
        "Replicas that start together wait for the lock, then find nothing left to apply."
    )
    # migrate runs the system checks itself, once the database accepts connections.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait", type=float, default=60.0, help=_("Seconds to wait for the database to accept connections (default 60).")
        )
        parser.add_argument(
            "--lock-timeout",
            type=float,
            default=600.0,
            help=_("Seconds to wait while another replica has the migration lock (default 600)."),
        )

    def handle(self, *args, **options):
        for option in ("wait", "lock_timeout"):
            if options[option] <= 0:
                raise CommandError(
                    _("--%(option)s must be a positive number of seconds, not %(value)s.")
                    % {"option": option.replace("_", "-"), "value": options[option]}
                )
        try:
            wait_for_database(options["wait"])
            applied = migrate_once(options["lock_timeout"], stdout=self.stdout._out)
        except StartupError as err:
            raise CommandError(str(err)) from err

        if applied:
            self.stdout.write(_("Applied %(count)d migrations to the %(database)s.") % {"count": len(applied), "database": describe_database()})
        else:
            self.stdout.write(_("The %(database)s is up to date; no migrations applied.") % {"database": describe_database()})
