from django.core.management.base import BaseCommand

from semrec.tenants.lookup import get_tenant
from semrec.tenants.models import ApiKey


class Command(BaseCommand):
    help = "Create an API key for a tenant and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Slug of the tenant the key belongs to.")
        parser.add_argument("--name", default="cli", help="A label for the key, shown in the admin.")

    def handle(self, *args, tenant, name, **options):
        _key, raw_key = ApiKey.issue(get_tenant(tenant), name)
        self.stdout.write(raw_key)
