from django.core.management.base import BaseCommand

from semrec.tenants.lookup import get_or_create_tenant, get_tenant
from semrec.tenants.models import ApiKey


class Command(BaseCommand):
    help = "Create an API key for a tenant and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Slug of the tenant the key belongs to.")
        parser.add_argument("--name", default="cli", help="A label for the key, shown in the admin.")
        parser.add_argument("--create-tenant", action="store_true", help="Create the tenant when it does not exist.")

    def handle(self, *args, tenant, name, create_tenant, **options):
        owner = get_or_create_tenant(tenant) if create_tenant else get_tenant(tenant)
        _key, raw_key = ApiKey.issue(owner, name)
        self.stdout.write(raw_key)
