from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrainingConfig(AppConfig):
    name = "semrec.training"
    verbose_name = _("Training and model versions")

    def ready(self) -> None:
        from semrec.catalog.signals import items_saved

        from .freshness import queue_item_encoding

        items_saved.connect(queue_item_encoding, dispatch_uid="semrec.training.queue_item_encoding")
