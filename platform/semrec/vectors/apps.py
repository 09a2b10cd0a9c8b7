from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VectorsConfig(AppConfig):
    name = "semrec.vectors"
    verbose_name = _("Embedding spaces and vectors")
