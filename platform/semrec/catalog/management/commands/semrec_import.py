from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from semrec.catalog.importers import kuairec, mind
from semrec.catalog.importers.movielens import FORMATS, DatasetNotFound, import_movielens, locate_dataset
from semrec.tenants.lookup import get_or_create_tenant, get_tenant
from semrec.terminal import logs_above_bars
from semrec.tenants.models import Tenant

MIND = "mind"
KUAIREC = "kuairec"
#: Folders under SEMREC_DATA_DIR searched for MIND and KuaiRec when --path is not given.
MIND_FOLDERS = ("mind-zh", "mind")
KUAIREC_FOLDERS = ("kuairec-captions", "kuairec")


class Command(BaseCommand):
    help = (
        "Import a MovieLens dataset (latest-small, 100K or 1M) or MIND news clicks into a tenant. "
        "MovieLens: ratings as events, titles, genres and tags as item text. MIND: clicks as events, "
        "news titles and abstracts as item text. KuaiRec captions: short videos with Chinese captions and "
        "categories as items, no events. Safe to repeat: nothing is imported twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Slug of the tenant to import into.")
        parser.add_argument("--create-tenant", action="store_true", help="Create the tenant when it does not exist.")
        parser.add_argument(
            "--path",
            help="Folder with the unpacked dataset files; a folder with behaviors.tsv is read as MIND, "
            f"one with {kuairec.CAPTIONS_FILE} as KuaiRec captions. "
            "Without it, the data folder or a download (MovieLens only) is used.",
        )
        parser.add_argument(
            "--dataset",
            default="ml-latest-small",
            choices=sorted(FORMATS) + [MIND, KUAIREC],
            help="Which dataset to find or download when --path is not given. "
            "MIND and KuaiRec are never downloaded: their licences must be accepted on their own sites.",
        )
        parser.add_argument("--no-download", action="store_true", help="Fail instead of downloading when no local copy exists.")

    def handle(self, *args, **options):
        with logs_above_bars():
            self._handle(**options)

    def _handle(self, **options):
        tenant = self._tenant(options["tenant"], options["create_tenant"])
        path = options["path"]
        if options["dataset"] == MIND or (path and (Path(path).expanduser() / mind.BEHAVIORS_FILE).is_file()):
            self._import_mind(tenant, path, options["verbosity"] > 0)
            return
        if options["dataset"] == KUAIREC or (path and (Path(path).expanduser() / kuairec.CAPTIONS_FILE).is_file()):
            self._import_kuairec(tenant, path, options["verbosity"] > 0)
            return

        try:
            folder = locate_dataset(
                options["dataset"], path, settings.SEMREC_DATA_DIR, settings.SEMREC_MOVIELENS_BASE_URL, download=not options["no_download"]
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

    def _import_mind(self, tenant: Tenant, path: str | None, show_progress: bool) -> None:
        folder = self._mind_folder(path)
        self.stdout.write(f"Importing MIND from {folder} into tenant '{tenant.slug}'")
        try:
            stats = mind.import_mind(tenant, folder, show_progress=show_progress)
        except mind.MindFormatError as err:
            raise CommandError(str(err)) from err

        languages = ", ".join(f"{language or 'unknown'}: {count}" for language, count in sorted(stats.languages.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {stats.items} news ({languages}), {stats.users} users, {stats.impressions} impressions, "
                f"{stats.events_created} new click events ({stats.events_duplicate} already present) in {stats.seconds:.1f}s."
            )
        )
        if stats.clicks_without_text:
            self.stderr.write(
                self.style.WARNING(
                    f"{stats.clicks_without_text} click(s) on news without text in the news file were skipped: "
                    "semrec needs a title for every item."
                )
            )

    def _import_kuairec(self, tenant: Tenant, path: str | None, show_progress: bool) -> None:
        folder = self._dataset_folder(path, KUAIREC_FOLDERS, "KuaiRec", kuairec.CAPTIONS_FILE)
        self.stdout.write(f"Importing KuaiRec captions from {folder} into tenant '{tenant.slug}'")
        try:
            stats = kuairec.import_kuairec(tenant, folder, show_progress=show_progress)
        except kuairec.KuaiRecFormatError as err:
            raise CommandError(str(err)) from err

        self.stdout.write(self.style.SUCCESS(f"Imported {stats.items} videos as items in {stats.seconds:.1f}s. The captions file has no events."))
        if stats.videos_without_text:
            self.stderr.write(
                self.style.WARNING(
                    f"{stats.videos_without_text} video(s) with neither a caption nor a cover text were skipped: "
                    "semrec needs a title for every item."
                )
            )

    def _dataset_folder(self, path: str | None, names: tuple[str, ...], label: str, marker: str) -> Path:
        """Return ``path``, or the first of ``names`` under SEMREC_DATA_DIR that exists."""
        if path:
            return Path(path).expanduser()
        candidates = [Path(settings.SEMREC_DATA_DIR).expanduser() / name for name in names]
        folder = next((candidate for candidate in candidates if candidate.is_dir()), None)
        if folder is None:
            searched = ", ".join(str(candidate) for candidate in candidates)
            folders = " or ".join(f"{name}/" for name in names)
            raise CommandError(
                f"No {label} folder was found (searched {searched}). Pass --path DIR with {marker}, "
                f"or set SEMREC_DATA_DIR to a folder that contains {folders}."
            )
        return folder

    def _mind_folder(self, path: str | None) -> Path:
        folder = self._dataset_folder(path, MIND_FOLDERS, "MIND", "behaviors.tsv and a news file")
        try:
            mind.check_folder(folder)
        except mind.MindFormatError as err:
            raise CommandError(str(err)) from err
        return folder

    def _tenant(self, slug: str, create: bool) -> Tenant:
        if create:
            return get_or_create_tenant(slug)
        return get_tenant(slug)
