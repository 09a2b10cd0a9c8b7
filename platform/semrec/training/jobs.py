"""The work behind the encode and train tasks, shared by commands and Celery workers."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from semrec.catalog.history import load_histories, load_interactions
from semrec.catalog.models import Item, User, item_text
from semrec.strategies.models import Strategy
from semrec.strategies.plugins import build_plugins, role_of
from semrec.plugins import Encoder, InsufficientTrainingData, PluginError, weighted_mean
from semrec.vectors.models import EmbeddingSpace, ItemVector, UserVector
from semrec.vectors.search import item_vectors
from semrec.vectors.serving import ServingSpace, complete_space, rebuild_encoder, resolve_serving_space
from semrec.vectors.spaces import find_space, get_or_create_space, load_model_version

from .intent_examples import load_intent_examples
from .models import ModelVersion, RunProgress

logger = logging.getLogger(__name__)

USER_CHUNK = 500


@dataclass(frozen=True)
class ItemRow:
    """An item as the encoder receives it."""

    pk: int
    text_hash: str
    text: str
    language: str


@dataclass(frozen=True)
class TextFit:
    """The ModelVersion an encoder that fits on texts was loaded from or fitted into."""

    version: ModelVersion
    is_new: bool
    metrics: dict = field(default_factory=dict)


def encode_items(strategy: Strategy, progress: RunProgress, force: bool = False) -> dict:
    """Encode the tenant's items whose text changed, rebuild user vectors, and switch serving to the space.

    An encoder that fits on texts first loads the strategy's active version,
    or fits on every item text when there is none or ``force`` is set. A new
    fit has a space of its own, so every item is encoded again. Until a space
    is complete, serving keeps the space it used before (see
    semrec.vectors.serving). Once it is, one transaction marks it complete,
    points the strategy at it and activates a new fit.
    """
    plugins = build_plugins(strategy)
    fit = _prepare_encoder(strategy, plugins.encoder, progress, force)
    space = get_or_create_space(strategy.tenant, plugins.encoder)

    try:
        result = _encode_into(strategy, plugins.encoder, space, progress, force)
    except Exception:
        if fit is not None and fit.is_new:
            _discard_fit(strategy, fit.version, space)
        raise

    previous_space_id = strategy.serving_space_id
    _switch_to(strategy, space, fit)
    if previous_space_id is not None and strategy.serving_space_id != previous_space_id and plugins.trainables:
        result["retrain_run"] = _queue_retrain(strategy, previous_space_id)
    return {**result, **_fit_result(fit)}


def _switch_to(strategy: Strategy, space, fit: TextFit | None) -> None:
    """Serve ``space`` from now on, activating the new fit that built it in the same transaction."""
    # Imported here because versions imports the evaluation app, which imports this module.
    from .versions import activate, prune

    new_fit = fit is not None and fit.is_new
    serve = _encoder_unchanged_since_start(strategy)
    with transaction.atomic():
        if new_fit:
            activate(fit.version)
        complete_space(strategy, space, serve=serve)
    if new_fit:
        prune(strategy, fit.version.role, strategy.parsed_options().keep_versions)


def _queue_retrain(strategy: Strategy, previous_space_id: int) -> int | None:
    """Queue a train run after serving moved to another space; return its id, or None without a broker.

    Models trained on the previous space's vectors (the intent model, EASE
    with text similarity) do not fit the new space, so the strategy is trained
    again. Without a broker this only logs, because training inside the encode
    run would make it take as long as both.
    """
    # Imported here because runs imports the tasks module, which imports this one.
    from .models import TrainingRun
    from .runs import BrokerUnavailable, enqueue

    if settings.CELERY_TASK_ALWAYS_EAGER:
        logger.warning(
            "Strategy %s now serves space %s instead of %s: train it again (manage.py semrec_train), "
            "because its trained models were built on the previous space's vectors",
            strategy.pk, strategy.serving_space_id, previous_space_id,
        )
        return None
    try:
        run = enqueue(strategy, TrainingRun.Kind.TRAIN)
    except BrokerUnavailable as err:
        logger.error("Strategy %s: queueing the train run after the space switch failed: %s", strategy.pk, err)
        return None
    logger.info("Strategy %s: queued train run %s after serving moved from space %s", strategy.pk, run.pk, previous_space_id)
    return run.pk


def _encoder_unchanged_since_start(strategy: Strategy) -> bool:
    """Return whether the stored strategy still names the encoder this run encoded with."""
    stored = Strategy.objects.filter(pk=strategy.pk).first()
    try:
        unchanged = stored is not None and stored.encoder_fingerprint() == strategy.encoder_fingerprint()
    except PluginError as err:
        logger.warning("Strategy %s: encoder fingerprint cannot be computed: %s", strategy.pk, err)
        return False
    if not unchanged:
        logger.info("Strategy %s: encoder changed during the encode run, so serving stays on its previous space", strategy.pk)
    return unchanged


def _item_rows(tenant, pks: list[int] | None = None) -> Iterator[ItemRow]:
    items = Item.objects.filter(tenant=tenant)
    if pks is not None:
        items = items.filter(pk__in=pks)
    items = items.order_by("pk").values_list(
        "id", "text_hash", "title", "description", "tags", "categories", "language"
    )
    for pk, text_hash, title, description, tags, categories, language in items.iterator(chunk_size=5000):
        yield ItemRow(pk, text_hash, item_text(title, description, tags, categories), language)


def _encode_into(strategy: Strategy, encoder: Encoder, space, progress: RunProgress, force: bool) -> dict:
    encoded = dict(ItemVector.objects.filter(space=space).values_list("item_id", "text_hash"))
    pending = [row for row in _item_rows(strategy.tenant) if force or encoded.get(row.pk) != row.text_hash]
    logger.info("Strategy %s: %d items to encode in space %s", strategy.pk, len(pending), space.pk)

    # Each chunk commits on its own, so a run that is killed keeps the chunks
    # it finished, and the next run skips them because their text hash matches.
    started = time.perf_counter()
    chunk_size = settings.SEMREC_ENCODE_CHUNK
    progress.stage("encode items", len(pending))
    for start in range(0, len(pending), chunk_size):
        chunk = pending[start : start + chunk_size]
        vectors = encoder.encode(
            [row.text for row in chunk],
            progress=lambda done, _total, offset=start: progress(offset + done, len(pending)),
            languages=[row.language for row in chunk],
        )
        _save_item_vectors(space, chunk, vectors)
    encode_seconds = time.perf_counter() - started

    if pending:
        space.ensure_index()
    users = rebuild_user_vectors(strategy, space, progress)
    return {
        "space": space.pk,
        "items_encoded": len(pending),
        "encode_seconds": round(encode_seconds, 3),
        "items_per_second": round(len(pending) / encode_seconds, 1) if pending and encode_seconds else None,
        "user_vectors": users,
    }


def encode_saved_items(tenant, item_pks: list[int] | None) -> dict:
    """Encode the given items into every space of the tenant that already exists, skipping unchanged texts.

    With ``item_pks`` None, every item of the tenant is checked. The spaces
    are each strategy's target space and, while it is being built, the
    space that still serves the strategy. A space is created only by a full
    encode, so a tenant that was never encoded gets nothing here. Returns
    the number of items encoded per space.
    """
    encoded: dict[int, int] = {}
    for strategy in Strategy.objects.filter(tenant=tenant).order_by("pk"):
        for encoder, space in _saved_items_targets(strategy):
            if space.pk not in encoded:
                encoded[space.pk] = _encode_saved_into(strategy, encoder, space, item_pks)
    return {"items_encoded": encoded}


def _saved_items_targets(strategy: Strategy) -> list[tuple[Encoder, object]]:
    """Return the strategy's existing target space and serving space, each with the encoder that built it."""
    try:
        encoder = build_plugins(strategy).encoder
    except PluginError as err:
        # Serving falls back to a scorer without vectors then, so no space of this strategy serves.
        logger.warning("Strategy %s: saved items not encoded, because its plugins cannot be built: %s", strategy.pk, err)
        return []
    targets = []
    if not (encoder.fits_on_texts and load_active_fit(strategy, encoder) is None):
        space = find_space(strategy.tenant, encoder)
        if space is not None:
            targets.append((encoder, space))
    serving = _serving_target(strategy)
    if serving is not None and all(space.pk != serving[1].pk for _encoder, space in targets):
        targets.append(serving)
    return targets


def _serving_target(strategy: Strategy) -> tuple[Encoder, object] | None:
    space = strategy.serving_space
    if space is None:
        return None
    try:
        return rebuild_encoder(space), space
    except (PluginError, ValueError) as err:
        logger.warning("Strategy %s: saved items not encoded into serving space %s: %s", strategy.pk, space.pk, err)
        return None


def tenants_with_stale_items() -> list[int]:
    """Return the tenants with an item that has no vector for its current text in some strategy's serving space.

    Such items were saved while their encode task could not be sent or ran
    and failed. ``encode_saved_items(tenant, None)`` encodes them.
    """
    tenants: set[int] = set()
    for space in EmbeddingSpace.objects.filter(serving_strategies__isnull=False).distinct().order_by("pk"):
        if space.tenant_id in tenants:
            continue
        current = ItemVector.objects.filter(space=space, item_id=OuterRef("pk"), text_hash=OuterRef("text_hash"))
        if Item.objects.filter(tenant_id=space.tenant_id).exclude(Exists(current)).exists():
            tenants.add(space.tenant_id)
    return sorted(tenants)


def _encode_saved_into(strategy: Strategy, encoder: Encoder, space, item_pks: list[int] | None) -> int:
    vectors = ItemVector.objects.filter(space=space)
    if item_pks is not None:
        vectors = vectors.filter(item_id__in=item_pks)
    encoded = dict(vectors.values_list("item_id", "text_hash"))
    rows = [row for row in _item_rows(strategy.tenant, item_pks) if encoded.get(row.pk) != row.text_hash]
    chunk_size = settings.SEMREC_ENCODE_CHUNK
    for start in range(0, len(rows), chunk_size):
        chunk = rows[start : start + chunk_size]
        vectors = encoder.encode([row.text for row in chunk], languages=[row.language for row in chunk])
        _save_item_vectors(space, chunk, vectors)
    checked = "all" if item_pks is None else len(item_pks)
    logger.info("Strategy %s: encoded %d of %s saved items into space %s", strategy.pk, len(rows), checked, space.pk)
    return len(rows)


# Encoders that fit on item texts


def _prepare_encoder(strategy: Strategy, encoder: Encoder, progress: RunProgress, force: bool) -> TextFit | None:
    """Load the encoder's active version or fit it; return None when it does not fit on texts or has no items."""
    if not encoder.fits_on_texts:
        return None
    if not force:
        version = load_active_fit(strategy, encoder)
        # NOTE: items added since the fit are encoded with its IDF weights
        # and SVD, which leave out terms the fit never saw. Encode with
        # --force to fit again when the catalogue has changed much.
        if version is not None:
            return TextFit(version, is_new=False)

    rows = list(_item_rows(strategy.tenant))
    if not rows:
        logger.info("Strategy %s: tenant %s has no items, so encoder %s stays unfitted", strategy.pk, strategy.tenant_id, encoder.id)
        return None
    return _fit_encoder(strategy, encoder, rows, progress)


def load_active_fit(strategy: Strategy, encoder: Encoder) -> ModelVersion | None:
    """Load the strategy's active version into an encoder that fits on texts; return it, or None when there is none."""
    if not encoder.fits_on_texts:
        return None
    version = _active_encoder_version(strategy, encoder)
    if version is None or not _try_load(strategy, encoder, version):
        return None
    return version


def _active_encoder_version(strategy: Strategy, encoder: Encoder) -> ModelVersion | None:
    return ModelVersion.objects.filter(strategy=strategy, role=role_of(encoder), is_active=True).first()


def _try_load(strategy: Strategy, encoder: Encoder, version: ModelVersion) -> bool:
    try:
        load_model_version(encoder, version)
    except ValueError as err:
        logger.warning(
            "Strategy %s: model version %s of encoder %s cannot be loaded: %s",
            strategy.pk, version.pk, encoder.id, err,
        )
        return False
    return True


def _fit_encoder(strategy: Strategy, encoder: Encoder, rows: list[ItemRow], progress: RunProgress) -> TextFit:
    """Fit the encoder on every item text and store its state as a new, inactive ModelVersion."""
    progress.stage(f"fit {encoder.id}", len(rows))
    started = time.perf_counter()
    try:
        metrics = encoder.fit_texts([row.text for row in rows], languages=[row.language for row in rows], progress=progress)
    except ValueError as err:
        raise ValueError(
            f"Encoder '{encoder.id}' of strategy '{strategy.name}' could not be fitted on the {len(rows)} item texts "
            f"of tenant '{strategy.tenant.slug}': {err}"
        ) from err
    metrics["fit_seconds"] = round(time.perf_counter() - started, 3)

    version = ModelVersion.objects.create(
        tenant=strategy.tenant,
        strategy=strategy,
        role=role_of(encoder),
        plugin_id=encoder.id,
        plugin_version=encoder.version,
        artifact=encoder.dump(),
        metrics=metrics,
    )
    # Encode items with the state as stored, which may be rounded (float16),
    # so that serving processes, which load it, encode queries alike.
    load_model_version(encoder, version)
    logger.info("Strategy %s: fitted encoder %s on %d item texts as model version %s", strategy.pk, encoder.id, len(rows), version.pk)
    return TextFit(version, is_new=True, metrics=metrics)


def _discard_fit(strategy: Strategy, version: ModelVersion, space) -> None:
    """Delete a new fit whose space could not be completed, so no run finds it half-built."""
    logger.warning("Strategy %s: deleting model version %s and space %s after a failed encode", strategy.pk, version.pk, space.pk)
    space.delete()
    version.delete()


def serving_space_for_training(strategy: Strategy, encoder: Encoder) -> ServingSpace:
    """Return the space (and its encoder) that serves the strategy, so trained models fit the vectors they will see."""
    load_active_fit(strategy, encoder)
    return resolve_serving_space(strategy, encoder, find_space(strategy.tenant, encoder))


def _fit_result(fit: TextFit | None) -> dict:
    if fit is None:
        return {"model_version": None, "fitted": False}
    return {"model_version": fit.version.pk, "fitted": fit.is_new, **({"fit": fit.metrics} if fit.is_new else {})}


def _save_item_vectors(space, chunk: list[ItemRow], vectors: np.ndarray) -> None:
    objects = [
        ItemVector(space=space, item_id=row.pk, text_hash=row.text_hash, embedding=vector)
        for row, vector in zip(chunk, vectors, strict=True)
    ]
    with transaction.atomic():
        ItemVector.objects.bulk_create(
            objects, update_conflicts=True, unique_fields=["space", "item"], update_fields=["embedding", "text_hash", "encoded_at"]
        )


def rebuild_user_vectors(strategy: Strategy, space, progress: RunProgress) -> int:
    """Store every user's vector: the weighted mean of their history's item vectors."""
    options = strategy.parsed_options()
    user_pks = list(User.objects.filter(tenant=strategy.tenant).order_by("pk").values_list("id", flat=True))
    progress.stage("rebuild user vectors", len(user_pks))
    for start in range(0, len(user_pks), USER_CHUNK):
        chunk = user_pks[start : start + USER_CHUNK]
        histories = load_histories(chunk, options)
        needed = {entry.item_id for history in histories.values() for entry in history if entry.weight > 0}
        vectors = item_vectors(space, list(needed))
        rows = []
        for user_pk, history in histories.items():
            vector = weighted_mean(history, vectors)
            if vector is not None:
                rows.append(UserVector(space=space, user_id=user_pk, embedding=vector))
        UserVector.objects.bulk_create(rows, update_conflicts=True, unique_fields=["space", "user"], update_fields=["embedding", "updated_at"])
        progress(start + len(chunk), len(user_pks))
    return len(user_pks)


def train_strategy(strategy: Strategy, progress: RunProgress) -> dict:
    """Fit every trainable plugin of the strategy and activate the new versions if the activation gate allows.

    A plugin that finds too little data is skipped with its reason, so the
    others still train. The run fails only when none could be trained.
    """
    plugins = build_plugins(strategy)
    if not plugins.trainables:
        return {"trained": []}

    progress.stage("load interactions", 1)
    data = load_interactions(strategy.tenant, strategy.parsed_options())
    progress(1, 1)
    if len(data) == 0:
        raise ValueError(
            f"Tenant '{strategy.tenant.slug}' has no positive interactions to train on. "
            "Import or send events first."
        )
    data.item_vectors = _interaction_item_vectors(strategy, plugins, data)

    trained, skipped = [], []
    for role, instances in plugins.trainables.items():
        plugin = instances[0]
        try:
            trained.append(_train_role(strategy, plugins, role, plugin, data, progress))
        except InsufficientTrainingData as err:
            logger.warning("Strategy %s: %s not trained: %s", strategy.pk, plugin.id, err)
            skipped.append({"role": role, "plugin": plugin.id, "reason": str(err)})
    if not trained:
        raise InsufficientTrainingData(" ".join(entry["reason"] for entry in skipped))

    # Imported here because versions imports the evaluation app, which imports this module.
    from .versions import activate_trained

    progress.stage("activate", 1)
    versions = list(ModelVersion.objects.filter(pk__in=[entry["model_version"] for entry in trained]))
    activation = activate_trained(strategy, versions)
    progress(1, 1)
    return {"trained": trained, "skipped": skipped, "activated": activation["activated"], "activation": activation}


def _interaction_item_vectors(strategy: Strategy, plugins, data) -> dict | None:
    """Return the vectors of the interactions' items in the strategy's serving space, or None before encoding."""
    space = serving_space_for_training(strategy, plugins.encoder).space
    if space is None:
        return None
    return item_vectors(space, np.unique(data.item_ids).tolist())


def _train_role(strategy: Strategy, plugins, role: str, plugin, interactions, progress: RunProgress) -> dict:
    if plugin.family == "intent_model":
        examples = _intent_examples(strategy, plugins, progress)
        progress.stage(f"train {plugin.id}", 0)
        started = time.perf_counter()
        metrics = plugin.fit(examples, progress=progress)
    else:
        progress.stage(f"train {plugin.id}", 0)
        started = time.perf_counter()
        metrics = plugin.fit(interactions, progress=progress)
    metrics["train_seconds"] = round(time.perf_counter() - started, 3)

    # Stored inactive; activate_trained decides whether it serves.
    version = ModelVersion.objects.create(
        tenant=strategy.tenant,
        strategy=strategy,
        role=role,
        plugin_id=plugin.id,
        plugin_version=plugin.version,
        artifact=plugin.dump(),
        metrics=metrics,
    )
    logger.info("Strategy %s: trained %s as model version %s in %.1fs", strategy.pk, plugin.id, version.pk, metrics["train_seconds"])
    return {"role": role, "model_version": version.pk, **metrics}


def _intent_examples(strategy: Strategy, plugins, progress: RunProgress):
    # The examples need the item vectors and query vectors of the space and encoder that serving uses.
    serving = serving_space_for_training(strategy, plugins.encoder)
    space = serving.space
    if space is None:
        raise InsufficientTrainingData(
            f"Intent model '{plugins.intent_model.id}' needs item vectors, and strategy '{strategy.name}' has none yet. "
            "Encode items first (manage.py semrec_encode)."
        )
    progress.stage("build intent examples", 1)
    examples = load_intent_examples(strategy, space, serving.encoder)
    progress(1, 1)
    return examples
