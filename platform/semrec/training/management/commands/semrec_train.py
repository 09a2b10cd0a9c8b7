from django.core.management.base import BaseCommand, CommandError

from semrec.strategies.lookup import get_strategy
from semrec.tenants.lookup import get_tenant
from semrec.terminal import StageBars, logs_above_bars
from semrec.training.management.background import add_background_arguments, check_background_options, run_in_background
from semrec.training.models import TrainingRun
from semrec.training.runs import RunFailed, run_now


class Command(BaseCommand):
    help = "Train every trainable plugin of a strategy (such as collaborative filtering) and activate the new versions."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Slug of the tenant.")
        parser.add_argument("--strategy", help="Strategy name; the tenant's default when omitted.")
        add_background_arguments(parser)

    def handle(self, *args, **options):
        check_background_options(options)
        with logs_above_bars():
            self._handle(**options)

    def _handle(self, **options):
        strategy = get_strategy(get_tenant(options["tenant"]), options["strategy"])
        if options["background"]:
            run = run_in_background(self, strategy, TrainingRun.Kind.TRAIN, options)
            if run is not None:
                self._report(run)
            return
        bars = StageBars(options["verbosity"] > 0)
        try:
            run = run_now(strategy, TrainingRun.Kind.TRAIN, bars)
        except RunFailed as err:
            raise CommandError(str(err)) from err
        finally:
            bars.close()
        self._report(run)

    def _report(self, run: TrainingRun) -> None:
        trained = run.result.get("trained", [])
        if not trained:
            self.stdout.write(f"Strategy '{run.strategy.name}' has no trainable plugins; nothing to train.")
        for entry in trained:
            self.stdout.write(self.style.SUCCESS(f"Trained {entry['role']} in {entry['train_seconds']:.1f}s: model version {entry['model_version']}."))
        for entry in run.result.get("skipped", []):
            self.stderr.write(self.style.WARNING(f"Skipped {entry['role']}: {entry['reason']}"))
