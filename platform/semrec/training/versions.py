"""Model versions: activation, the activation gate, rollback and pruning, and the encode run after an encoder change.

Each trained role of a strategy has at most one active ModelVersion.
Serving processes load the active versions and re-check them every
``SEMREC_RUNTIME_REFRESH_SECONDS``, so activating any version, a new one or
an old one, changes serving within that time.

With the strategy option ``activation_margin`` set, a train run stores its
new versions inactive first. It then evaluates the strategy twice on a
validation split of the tenant's events, with the evaluation app's split and
metrics: once with the new versions loaded and once with the active ones.
The new versions are activated only when their score in
``activation_metric`` at ``activation_k`` is at least the active versions'
score minus the margin.
Otherwise they stay inactive, with both scores and the reason in their
metrics, and the run's result records it.

After a version is activated, the inactive versions of its role beyond the
strategy's ``keep_versions`` newest are deleted. The active version and a
fitted encoder's version whose space serves a strategy are never deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from semrec.evaluation.protocol import EvaluationError, EvaluationSettings
from semrec.evaluation.runner import Evaluator
from semrec.plugins import PluginError
from semrec.strategies.models import Strategy
from semrec.strategies.options import StrategyOptions
from semrec.strategies.plugins import StrategyPlugins, build_plugins
from semrec.vectors.spaces import find_space

from .models import ModelVersion, TrainingRun

logger = logging.getLogger(__name__)

UNFINISHED = (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING)
#: An unfinished encode run older than this counts as lost, so a pending encoder switch is queued again.
PENDING_RUN_MAX_AGE = timedelta(days=1)


class VersionError(ValueError):
    """A version operation cannot be done, for example a rollback with no earlier version."""


def activate(version: ModelVersion) -> ModelVersion:
    """Make ``version`` the active version of its role, atomically; serving follows within the refresh interval."""
    version.activate()
    logger.info(
        "Strategy %s: activated model version %s of role %s (%s)", version.strategy_id, version.pk, version.role, version.plugin_id
    )
    return version


def rollback(strategy: Strategy, role: str) -> ModelVersion:
    """Activate the version of ``role`` that was active before the current one, and return it.

    That is the newest version created before the active one that was ever
    active, so versions that the activation gate rejected are skipped and
    repeated rollbacks walk further back. Raises VersionError when the role
    has no active version or no such earlier version.
    """
    versions = ModelVersion.objects.filter(strategy=strategy, role=role)
    current = versions.filter(is_active=True).first()
    if current is None:
        raise VersionError(
            _("Role %(role)r of strategy %(strategy)r has no active model version to roll back from.")
            % {"role": role, "strategy": strategy.name}
        )
    earlier = Q(created_at__lt=current.created_at) | Q(created_at=current.created_at, pk__lt=current.pk)
    previous = versions.filter(earlier, activated_at__isnull=False).order_by("-created_at", "-pk").first()
    if previous is None:
        raise VersionError(
            _("Model version %(version)s is the oldest version of role %(role)r of strategy %(strategy)r that was ever "
              "active, so there is nothing to roll back to.")
            % {"version": current.pk, "role": role, "strategy": strategy.name}
        )
    logger.info("Strategy %s: rolling role %s back from model version %s to %s", strategy.pk, role, current.pk, previous.pk)
    return activate(previous)


def prune(strategy: Strategy, role: str, keep: int) -> list[int]:
    """Delete the inactive versions of ``role`` beyond the ``keep`` newest ones; return the deleted ids.

    Deleting a fitted encoder's version deletes its embedding space too, so a
    version whose space is some strategy's serving space is kept.
    """
    if keep < 1:
        raise VersionError(_("keep must be at least 1, got %(keep)s.") % {"keep": keep})
    inactive = ModelVersion.objects.filter(strategy=strategy, role=role, is_active=False).order_by("-created_at", "-pk")
    candidates = list(inactive.values_list("pk", flat=True)[keep:])
    serving = set(
        ModelVersion.objects.filter(pk__in=candidates, spaces__serving_strategies__isnull=False).values_list("pk", flat=True)
    )
    doomed = [pk for pk in candidates if pk not in serving]
    if doomed:
        ModelVersion.objects.filter(pk__in=doomed, is_active=False).delete()
        logger.info("Strategy %s: deleted %d inactive model versions of role %s: %s", strategy.pk, len(doomed), role, doomed)
    return doomed


# The activation gate


@dataclass
class GateDecision:
    """Whether new versions may be activated, with the scores behind the decision."""

    activate: bool
    reason: str
    scores: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"activated": self.activate, "reason": self.reason, **self.scores}


class _StoredStateEvaluator(Evaluator):
    """An evaluator that loads given trained states into the strategy's plugins instead of fitting them."""

    states: dict[str, bytes] = {}

    def _fit(self, plugins: StrategyPlugins, options: StrategyOptions, vectors, space_id: int, notes: list[str]) -> None:
        if any(role not in self.states for role in plugins.trainables):
            # A role that never trained is fitted on the training part, like a plain evaluation.
            super()._fit(plugins, options, vectors, space_id, notes)
        for role, instances in plugins.trainables.items():
            if role in self.states:
                for instance in instances:
                    instance.load(self.states[role])


def check_activation_gate(strategy: Strategy, new_versions: Sequence[ModelVersion]) -> GateDecision:
    """Compare the strategy with ``new_versions`` against it with the active versions, on a validation split.

    NOTE: the stored versions were trained on every event, held-out ones
    included, so both scores are optimistic. The new versions saw all the
    held-out events and the active ones only those older than them, so the
    gate catches a clearly worse model, not a small regression.
    """
    options = strategy.parsed_options()
    if options.activation_margin is None:
        return GateDecision(True, "The activation gate is off (activation_margin is empty).")

    roles = {version.role for version in new_versions}
    active = {version.role: version for version in ModelVersion.objects.filter(strategy=strategy, is_active=True)}
    if not roles & active.keys():
        return GateDecision(True, "No active version of the trained roles to compare against.")

    # Roles that this run did not train keep their active version in both evaluations.
    baseline = {role: bytes(version.artifact) for role, version in active.items()}
    candidate = {**baseline, **{version.role: bytes(version.artifact) for version in new_versions}}
    baseline = {**{role: state for role, state in candidate.items() if role not in baseline}, **baseline}

    metric, k = options.activation_metric, options.activation_k
    evaluation_settings = EvaluationSettings(ks=(k,), validation=True, max_users=options.activation_max_users)
    try:
        evaluator = _StoredStateEvaluator(strategy.tenant, evaluation_settings)
        evaluator.states = candidate
        new_score = evaluator.evaluate(strategy).metrics[k][metric]
        evaluator.states = baseline
        active_score = evaluator.evaluate(strategy).metrics[k][metric]
    except EvaluationError as err:
        logger.warning("Strategy %s: activation gate could not evaluate, so the new versions stay inactive: %s", strategy.pk, err)
        return GateDecision(False, f"The activation gate could not evaluate the strategy: {err}")

    scores = {
        "metric": f"{metric}@{k}",
        "new_score": round(new_score, 6),
        "active_score": round(active_score, 6),
        "margin": options.activation_margin,
        "active_versions": sorted(active[role].pk for role in roles if role in active),
        "validation_users": len(evaluator.users),
    }
    if new_score >= active_score - options.activation_margin:
        return GateDecision(True, f"{metric}@{k} {new_score:.4f} is within the margin of the active {active_score:.4f}.", scores)
    return GateDecision(
        False,
        f"{metric}@{k} {new_score:.4f} is below the active versions' {active_score:.4f} minus the margin "
        f"{options.activation_margin}.",
        scores,
    )


def activate_trained(strategy: Strategy, new_versions: Sequence[ModelVersion]) -> dict[str, Any]:
    """Pass new versions through the activation gate, activate them together if it allows, and prune.

    Returns the decision for the run's result.
    """
    decision = check_activation_gate(strategy, new_versions)
    record = decision.as_dict()
    with transaction.atomic():
        for version in new_versions:
            version.metrics = {**version.metrics, "activation": record}
            version.save(update_fields=["metrics"])
            if decision.activate:
                activate(version)
    if not decision.activate:
        logger.warning(
            "Strategy %s: model versions %s stay inactive: %s", strategy.pk, [version.pk for version in new_versions], decision.reason
        )
        return record

    keep = strategy.parsed_options().keep_versions
    for version in new_versions:
        prune(strategy, version.role, keep)
    return record


# Encoder changes


def queue_encoder_switch(strategy: Strategy) -> TrainingRun | None:
    """Queue an encode run after the strategy's encoder changed, when a broker is configured; return the run.

    Serving keeps the old space until that run completes the new one. A
    broker that cannot be reached is logged and does not raise, because the
    strategy is saved already. Celery beat's schedule check queues the encode
    later (``queue_pending_switches``).
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        logger.info(
            "Strategy %s: encoder changed to %s; with no broker configured, run manage.py semrec_encode to build its space",
            strategy.pk, strategy.encoder_id,
        )
        return None
    # Imported here because runs imports tasks, which imports jobs, which may import this module.
    from .runs import enqueue

    waiting = TrainingRun.objects.filter(
        strategy=strategy, kind=TrainingRun.Kind.ENCODE, status=TrainingRun.Status.QUEUED,
        created_at__gte=timezone.now() - PENDING_RUN_MAX_AGE,
    )
    if waiting.exists():
        logger.info("Strategy %s: encoder changed; an encode run is queued already", strategy.pk)
        return None
    try:
        run = enqueue(strategy, TrainingRun.Kind.ENCODE)
    except Exception:
        logger.exception("Strategy %s: encoder changed, but its encode run could not be queued; the schedule check retries", strategy.pk)
        return None
    logger.info("Strategy %s: encoder changed to %s; queued encode run %s", strategy.pk, strategy.encoder_id, run.pk)
    return run


def queue_pending_switches() -> list[TrainingRun]:
    """Queue an encode run for each strategy whose configured encoder has no complete space yet; return the runs.

    This catches encoder changes whose encode run was never sent, for
    example because the broker was down when the strategy was saved. A
    strategy with an unfinished encode run younger than a day is skipped.
    """
    # Imported here because jobs imports this module lazily and runs imports tasks.
    from .jobs import load_active_fit
    from .runs import enqueue

    since = timezone.now() - PENDING_RUN_MAX_AGE
    runs = []
    for strategy in Strategy.objects.filter(serving_space__isnull=False).select_related("tenant").order_by("pk"):
        if not _switch_pending(strategy, load_active_fit):
            continue
        unfinished = TrainingRun.objects.filter(
            strategy=strategy, kind=TrainingRun.Kind.ENCODE, status__in=UNFINISHED, created_at__gte=since
        )
        if unfinished.exists():
            continue
        try:
            runs.append(enqueue(strategy, TrainingRun.Kind.ENCODE))
        except Exception:
            logger.exception("Strategy %s: the encode run of its new encoder could not be queued", strategy.pk)
            continue
        logger.info("Strategy %s: queued encode run %s for its new encoder %s", strategy.pk, runs[-1].pk, strategy.encoder_id)
    return runs


def _switch_pending(strategy: Strategy, load_active_fit) -> bool:
    """Return whether the strategy's configured encoder lacks a complete space."""
    try:
        encoder = build_plugins(strategy).encoder
    except PluginError:
        # Nothing to encode with; the strategy's system check reports the plugin.
        return False
    load_active_fit(strategy, encoder)
    target = find_space(strategy.tenant, encoder)
    return target is None or not target.is_complete
