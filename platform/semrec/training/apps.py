from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrainingConfig(AppConfig):
    name = "semrec.training"
    verbose_name = _("Training and model versions")
