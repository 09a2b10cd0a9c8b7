from django.db import migrations

from semrec.vectors.operations import CreateVectorExtension


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [CreateVectorExtension()]
