from django.core.management.base import BaseCommand, CommandError

from semrec.strategies.lookup import get_strategy
from semrec.tenants.lookup import get_tenant
from semrec.terminal import StageBars, logs_above_bars
from semrec.training.management.background import add_background_arguments, check_background_options, run_in_background
from semrec.training.models import TrainingRun
from semrec.training.runs import RunFailed, run_now


class Command(BaseCommand):
    help = "Encode a tenant's new and changed items with the strategy's encoder, then rebuild user vectors."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Slug of the tenant.")
        parser.add_argument("--strategy", help="Strategy name; the tenant's default when omitted.")
        parser.add_argument("--force", action="store_true", help="Re-encode every item, changed or not.")
        add_background_arguments(parser)

    def handle(self, *args, **options):
        check_background_options(options)
        with logs_above_bars():
            self._handle(**options)

    def _handle(self, **options):
        strategy = get_strategy(get_tenant(options["tenant"]), options["strategy"])
        if options["background"]:
            run = run_in_background(self, strategy, TrainingRun.Kind.ENCODE, options, force=options["force"])
            if run is not None:
                self._report(run)
            return
        bars = StageBars(options["verbosity"] > 0)
        try:
            run = run_now(strategy, TrainingRun.Kind.ENCODE, bars, force=options["force"])
        except RunFailed as err:
            raise CommandError(str(err)) from err
        finally:
            bars.close()
        self._report(run)

    def _report(self, run: TrainingRun) -> None:
        result = run.result
        rate = f" ({result['items_per_second']:,.0f} items/s)" if result.get("items_per_second") else ""
        self.stdout.write(self.style.SUCCESS(f"Encoded {result['items_encoded']} items in {result['encode_seconds']:.1f}s{rate}; {result['user_vectors']} user vectors rebuilt."))
