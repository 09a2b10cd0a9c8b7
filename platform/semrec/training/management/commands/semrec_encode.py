from django.core.management.base import BaseCommand, CommandError

from semrec.strategies.lookup import get_strategy
from semrec.tenants.lookup import get_tenant
from semrec.terminal import StageBars, logs_above_bars
from semrec.training.models import TrainingRun
from semrec.training.runs import RunFailed, run_now



class Command(BaseCommand):
    help = "Encode a tenant's new and changed items with the strategy's encoder, then rebuild user vectors."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Slug of the tenant.")
        parser.add_argument("--strategy", help="Strategy name; the tenant's default when omitted.")
        parser.add_argument("--force", action="store_true", help="Re-encode every item, changed or not.")

    def handle(self, *args, **options):
        with logs_above_bars():
            self._handle(**options)

    def _handle(self, **options):
        strategy = get_strategy(get_tenant(options["tenant"]), options["strategy"])
        bars = StageBars(options["verbosity"] > 0)
        try:
            run = run_now(strategy, TrainingRun.Kind.ENCODE, bars, force=options["force"])
        except RunFailed as err:
            raise CommandError(str(err)) from err
        finally:
            bars.close()
        result = run.result
        rate = f" ({result['items_per_second']:,.0f} items/s)" if result.get("items_per_second") else ""
        self.stdout.write(self.style.SUCCESS(f"Encoded {result['items_encoded']} items in {result['encode_seconds']:.1f}s{rate}; {result['user_vectors']} user vectors rebuilt."))
