# Separate from 0003: PostgreSQL rejects the index that 0003 creates in a
# transaction that has already updated rows of the same table.

import re

from django.db import migrations
from django.db.models import F

FITTED_MODEL_NAME = re.compile(r"\(model version (\d+)\)$")


def backfill_spaces(apps, schema_editor):
    """Count existing spaces as complete, and link fitted encoders' spaces to their model version.

    Serving used every existing space before completion was recorded. A
    fitted encoder's space stored its version only in the model name.
    """
    EmbeddingSpace = apps.get_model("vectors", "EmbeddingSpace")
    ModelVersion = apps.get_model("training", "ModelVersion")
    EmbeddingSpace.objects.filter(completed_at__isnull=True).update(completed_at=F("created_at"))
    existing = set(ModelVersion.objects.values_list("pk", flat=True))
    for space in EmbeddingSpace.objects.filter(model_version__isnull=True).only("pk", "model_name"):
        match = FITTED_MODEL_NAME.search(space.model_name)
        if match and int(match.group(1)) in existing:
            EmbeddingSpace.objects.filter(pk=space.pk).update(model_version_id=int(match.group(1)))


class Migration(migrations.Migration):

    dependencies = [
        ("vectors", "0003_space_completion_and_model_version"),
    ]

    operations = [
        migrations.RunPython(backfill_spaces, migrations.RunPython.noop),
    ]
