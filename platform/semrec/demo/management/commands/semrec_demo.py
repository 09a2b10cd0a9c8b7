import os
import secrets
import signal
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils import timezone

from semrec.catalog.importers.movielens import DatasetNotFound, import_movielens, locate_dataset
from semrec.catalog.models import User
from semrec.strategies.models import Strategy
from semrec.tenants.models import ApiKey, Tenant
from semrec.terminal import StageBars, logs_above_bars
from semrec.training.models import TrainingRun
from semrec.training.runs import RunFailed, run_now

ADMIN_USERNAME = "admin"
DEMO_KEY_NAME = "demo"


class Command(BaseCommand):
    help = (
        "Set up the demo tenant from MovieLens latest-small (import, encode, train), "
        "print an API key and a curl line, and serve the API and admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("--path", help="Folder with the unpacked ml-latest-small files; default: the data folder or a download.")
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Address and port to serve on.")
        parser.add_argument("--no-serve", action="store_true", help="Set everything up, print the curl line and exit.")

    def handle(self, *args, **options):
        with logs_above_bars():
            self._handle(**options)

    def _handle(self, **options):
        verbose = options["verbosity"] > 0
        call_command("migrate", verbosity=0)
        tenant, _created = Tenant.objects.get_or_create(slug="demo", defaults={"name": "Demo (MovieLens)"})
        password = self._ensure_superuser()

        try:
            folder = locate_dataset("ml-latest-small", options["path"], settings.SEMREC_DATA_DIR, settings.SEMREC_MOVIELENS_BASE_URL)
        except DatasetNotFound as err:
            raise CommandError(str(err)) from err
        self.stdout.write(f"Importing {folder} ...")
        stats = import_movielens(tenant, folder, show_progress=verbose)
        self.stdout.write(f"  {stats.items} items, {stats.users} users, {stats.events_created} new events.")

        strategy = self._ensure_strategy(tenant)
        self._run(strategy, TrainingRun.Kind.ENCODE, verbose)
        self._run(strategy, TrainingRun.Kind.TRAIN, verbose)

        raw_key = self._rotate_demo_key(tenant)
        user = User.objects.filter(tenant=tenant).annotate(events_count=Count("events")).order_by("-events_count", "external_id").first()
        self._print_summary(options["addr"], raw_key, user, password)
        if not options["no_serve"]:
            self._serve(options["addr"])

    def _rotate_demo_key(self, tenant: Tenant) -> str:
        """Issue a new demo key and revoke the ones earlier runs printed, so keys do not pile up."""
        earlier = ApiKey.objects.active().filter(tenant=tenant, name=DEMO_KEY_NAME)
        revoked = earlier.update(revoked_at=timezone.now())
        if revoked:
            self.stdout.write(f"Revoked {revoked} API key(s) printed by an earlier demo run.")
        _key, raw_key = ApiKey.issue(tenant, DEMO_KEY_NAME)
        return raw_key

    def _serve(self, addr: str) -> None:
        # Exit through SystemExit on SIGTERM as on Ctrl-C, so that exit
        # handlers run and the embedded PostgreSQL stops with the server.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        self.stdout.write("Serving; press Ctrl-C to stop the server and the embedded database.")
        call_command("runserver", addr, use_reloader=False)

    def _ensure_superuser(self) -> str | None:
        """Create the admin login; return its password when this run chose it."""
        model = get_user_model()
        env_password = os.environ.get("SEMREC_ADMIN_PASSWORD")
        existing = model.objects.filter(username=ADMIN_USERNAME).first()
        if existing is not None and not env_password:
            return None
        password = env_password or secrets.token_urlsafe(12)
        if existing is None:
            model.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
        else:
            existing.set_password(password)
            existing.save(update_fields=["password"])
        return None if env_password else password

    def _ensure_strategy(self, tenant: Tenant) -> Strategy:
        strategy = Strategy.objects.filter(tenant=tenant, is_default=True).first()
        if strategy is None:
            strategy = Strategy.objects.create(tenant=tenant, name="hybrid", is_default=True, scorer_id="hybrid")
            Strategy.objects.get_or_create(tenant=tenant, name="popularity", defaults={"scorer_id": "popularity"})
            Strategy.objects.get_or_create(tenant=tenant, name="content", defaults={"scorer_id": "content"})
        return strategy

    def _run(self, strategy: Strategy, kind: str, verbose: bool) -> None:
        self.stdout.write(f"{TrainingRun.Kind(kind).label.capitalize()} ...")
        bars = StageBars(verbose)
        try:
            run_now(strategy, kind, bars)
        except RunFailed as err:
            raise CommandError(str(err)) from err
        finally:
            bars.close()

    def _print_summary(self, addr: str, raw_key: str, user, password: str | None) -> None:
        base = f"http://{addr}"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("The demo is ready."))
        self.stdout.write(f"API key (shown once): {raw_key}")
        if password:
            self.stdout.write(f"Admin: {base}/admin/  user '{ADMIN_USERNAME}', password (shown once): {password}")
        else:
            self.stdout.write(f"Admin: {base}/admin/  user '{ADMIN_USERNAME}' (password unchanged, or from SEMREC_ADMIN_PASSWORD)")
        self.stdout.write(f"API docs: {base}/api/v1/docs/")
        if user is not None:
            self.stdout.write("Recommendations for a real user:")
            self.stdout.write(f'  curl -H "Authorization: Bearer {raw_key}" "{base}/api/v1/users/{user.external_id}/recommendations/?n=10&explain=1"')
        self.stdout.write("")
