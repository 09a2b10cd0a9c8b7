import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from semrec.evaluation.protocol import EvaluationError, SplitProtocol, parse_settings
from semrec.evaluation.runs import enqueue_evaluation, evaluate_now
from semrec.strategies.lookup import get_strategy
from semrec.strategies.models import Strategy
from semrec.tenants.lookup import get_tenant
from semrec.terminal import StageBars, logs_above_bars
from semrec.training.models import TrainingRun

COLUMNS = [
    ("ndcg", "nDCG"),
    ("recall", "Recall"),
    ("precision", "Prec"),
    ("map", "MAP"),
    ("mrr", "MRR"),
    ("hit_rate", "HR"),
    ("coverage", "Cov"),
    ("diversity", "ILD"),
    ("novelty", "Nov"),
]


class Command(BaseCommand):
    help = (
        "Evaluate strategies offline on the tenant's own events: split the user-item pairs, fit each strategy's "
        "trainable plugins on the training part, rank every available item for each test user, and store "
        "Recall, Precision, nDCG, MAP, MRR, hit rate, coverage, diversity and novelty at each K."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Slug of the tenant.")
        parser.add_argument(
            "--strategy", action="append", default=[], help="Strategy name; repeat it for several. The tenant's default when omitted."
        )
        parser.add_argument("--all-strategies", action="store_true", help="Evaluate every strategy of the tenant.")
        parser.add_argument(
            "--split", default=SplitProtocol.RANDOM_BY_USER, choices=SplitProtocol.values, help="How user-item pairs are split (default: %(default)s)."
        )
        parser.add_argument("--train-ratio", type=float, default=0.75, help="Share of pairs kept for training by the random splits, from 0 to 1 (default: %(default)s).")
        parser.add_argument("--seed", type=int, default=42, help="Seed of the random split and of the user sample (default: %(default)s).")
        parser.add_argument("-k", "--k", dest="ks", type=int, action="append", help="Cut-off K; repeat it for several. Default 10.")
        parser.add_argument("--min-rating", type=float, help="Held-out ratings below this value do not count as relevant.")
        parser.add_argument(
            "--validation", action="store_true", help="Measure on a validation split carved from the training part, for tuning."
        )
        parser.add_argument("--max-users", type=int, help="Evaluate a random sample of at most this many test users.")
        parser.add_argument("--background", action="store_true", help="Send the evaluation to the Celery workers and return at once.")
        parser.add_argument("--json", help="Also write the results to this JSON file.")

    def handle(self, *args, **options):
        with logs_above_bars():
            self._handle(**options)

    def _handle(self, **options):
        try:
            settings = parse_settings(self._raw_settings(options))
        except EvaluationError as err:
            raise CommandError(str(err)) from err
        tenant = get_tenant(options["tenant"])
        strategies = self._strategies(tenant, options)

        if options["background"]:
            self._enqueue(strategies, settings)
            return
        bars = StageBars(options["verbosity"] > 0)
        try:
            runs = evaluate_now(strategies, settings, lambda _run, stage, done, total: bars(stage, done, total))
        except EvaluationError as err:
            raise CommandError(str(err)) from err
        finally:
            bars.close()
        self._report(runs, settings, options["json"])

    @staticmethod
    def _raw_settings(options) -> dict:
        raw = {
            "protocol": options["split"],
            "train_ratio": options["train_ratio"],
            "seed": options["seed"],
            "ks": options["ks"] or [10],
            "min_rating": options["min_rating"],
            "validation": options["validation"],
            "max_users": options["max_users"],
        }
        return raw

    @staticmethod
    def _strategies(tenant, options) -> list[Strategy]:
        if options["all_strategies"]:
            if options["strategy"]:
                raise CommandError("Pass either --strategy or --all-strategies, not both.")
            strategies = list(Strategy.objects.filter(tenant=tenant).select_related("tenant").order_by("name"))
            if not strategies:
                raise CommandError(f"Tenant '{tenant.slug}' has no strategies. Create one in the admin first.")
            return strategies
        names = list(dict.fromkeys(options["strategy"])) or [None]
        return [get_strategy(tenant, name) for name in names]

    def _enqueue(self, strategies, settings) -> None:
        runs = enqueue_evaluation(strategies, settings)
        for run in runs:
            self.stdout.write(f"Evaluation of strategy '{run.strategy.name}' is training run {run.pk} ({run.status}).")

    def _report(self, runs: list[TrainingRun], settings, json_path: str | None) -> None:
        self.stdout.write(self._header(settings))
        failed = []
        for run in runs:
            if run.status != TrainingRun.Status.SUCCEEDED:
                failed.append(f"'{run.strategy.name}' (training run {run.pk}): {run.error}")
                continue
            for k, values in run.result["metrics"].items():
                cells = " ".join(_cell(values.get(key)) for key, _label in COLUMNS)
                self.stdout.write(f"{run.strategy.name:<24} {k:>4} {cells} {run.result['users']:>6} {run.result['score_seconds']:>7.1f}")
        if json_path:
            payload = [{"strategy": run.strategy.name, "run": run.pk, "status": run.status, **run.result} for run in runs]
            Path(json_path).write_text(json.dumps(payload, indent=2) + "\n")
        if failed:
            raise CommandError("Evaluation failed for " + "; ".join(failed))

    @staticmethod
    def _header(settings) -> str:
        split = settings.protocol + ("" if settings.protocol == SplitProtocol.LEAVE_LAST_OUT else f" {settings.train_ratio:g}")
        title = f"Split {split}, seed {settings.seed}" + (", validation part" if settings.validation else ", test part")
        labels = " ".join(f"{label:>7}" for _key, label in COLUMNS)
        return f"{title}\n{'strategy':<24} {'K':>4} {labels} {'users':>6} {'rank s':>7}"


def _cell(value) -> str:
    return f"{'-':>7}" if value is None else f"{value:>7.4f}"
