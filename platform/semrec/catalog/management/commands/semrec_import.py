from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from semrec.catalog.importers.movielens import FORMATS, DatasetNotFound, import_movielens, locate_dataset
from semrec.tenants.lookup import get_tenant
from semrec.terminal import logs_above_bars
from semrec.tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Import a MovieLens dataset (latest-small, 100K or 1M) into a tenant: ratings as events, "
        "titles, genres and tags as item text. Safe to repeat: nothing is imported twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Slug of the tenant to import into.")
        parser.add_argument("--create-tenant", action="store_true", help="Create the tenant when it does not exist.")
        parser.add_argument("--path", help="Folder with the unpacked dataset files. Without it, the data folder or a download is used.")
        parser.add_argument(
            "--dataset", default="ml-latest-small", choices=sorted(FORMATS), help="Which dataset to find or download when --path is not given."
        )
        parser.add_argument("--no-download", action="store_true", help="Fail instead of downloading when no local copy exists.")

    def handle(self, *args, **options):
        with logs_above_bars():
            self._handle(**options)

    def _handle(self, **options):
        tenant = self._tenant(options["tenant"], options["create_tenant"])
        try:
            folder = locate_dataset(
                options["dataset"], options["path"], settings.SEMREC_DATA_DIR, settings.SEMREC_MOVIELENS_BASE_URL, download=not options["no_download"]
            )
        except DatasetNotFound as err:
            raise CommandError(str(err)) from err

        self.stdout.write(f"Importing {folder} into tenant '{tenant.slug}'")
        stats = import_movielens(tenant, folder, show_progress=options["verbosity"] > 0)
        if stats.items_retitled:
            self.stderr.write(
                self.style.WARNING(
                    f"{stats.items_retitled} existing item(s) in tenant '{tenant.slug}' got a different title. "
                    "If this folder holds another MovieLens variant than the one imported before, their ids collide: "
                    "import each variant into its own tenant."
                )
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {stats.items} items, {stats.users} users, {stats.events_created} new events "
                f"({stats.events_duplicate} already present) in {stats.seconds:.1f}s ({stats.events_per_second:,.0f} events/s)."
            )
        )

    def _tenant(self, slug: str, create: bool) -> Tenant:
        if create:
            tenant, _created = Tenant.objects.get_or_create(slug=slug, defaults={"name": slug})
            return tenant
        return get_tenant(slug)
