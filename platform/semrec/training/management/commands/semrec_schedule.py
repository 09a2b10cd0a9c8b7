from django.core.management.base import BaseCommand, CommandError

from semrec.strategies.lookup import get_strategy
from semrec.tenants.lookup import get_tenant
from semrec.training.models import TrainingRun, TrainingSchedule

KINDS = {"encode": TrainingRun.Kind.ENCODE, "train": TrainingRun.Kind.TRAIN}


class Command(BaseCommand):
    help = (
        "Show or set how often Celery beat re-encodes items and retrains a strategy. "
        "Without --every or --off it lists the tenant's schedules."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Slug of the tenant.")
        parser.add_argument("--strategy", help="Strategy name; the tenant's default when omitted.")
        parser.add_argument("--kind", choices=sorted(KINDS), help="Which run to schedule: encode or train.")
        parser.add_argument("--every", type=int, metavar="HOURS", help="Hours between two runs (1 or more).")
        parser.add_argument("--off", action="store_true", help="Disable the schedule of --kind.")

    def handle(self, *args, **options):
        tenant = get_tenant(options["tenant"])
        if options["every"] is None and not options["off"]:
            self._list(tenant)
            return
        if options["kind"] is None:
            raise CommandError("--kind is required with --every or --off; pass --kind encode or --kind train.")
        strategy = get_strategy(tenant, options["strategy"])
        if options["off"]:
            self._disable(strategy, KINDS[options["kind"]])
        else:
            self._set(strategy, KINDS[options["kind"]], options["every"])

    def _set(self, strategy, kind, hours: int) -> None:
        if hours < 1:
            raise CommandError(f"--every is {hours}; pass a whole number of hours, 1 or more.")
        TrainingSchedule.objects.update_or_create(strategy=strategy, kind=kind, defaults={"interval_hours": hours, "enabled": True})
        self.stdout.write(self.style.SUCCESS(f"Strategy '{strategy.name}': {kind} every {hours} h."))

    def _disable(self, strategy, kind) -> None:
        updated = TrainingSchedule.objects.filter(strategy=strategy, kind=kind).update(enabled=False)
        if not updated:
            raise CommandError(f"Strategy '{strategy.name}' has no {kind} schedule to disable.")
        self.stdout.write(self.style.SUCCESS(f"Strategy '{strategy.name}': {kind} schedule disabled."))

    def _list(self, tenant) -> None:
        schedules = TrainingSchedule.objects.filter(strategy__tenant=tenant).select_related("strategy")
        if not schedules:
            self.stdout.write(f"Tenant '{tenant.slug}' has no training schedules.")
        for schedule in schedules:
            state = "enabled" if schedule.enabled else "disabled"
            last = schedule.last_queued_at.isoformat(timespec="seconds") if schedule.last_queued_at else "never"
            self.stdout.write(f"{schedule.strategy.name}\t{schedule.kind}\tevery {schedule.interval_hours} h\t{state}\tlast queued {last}")
