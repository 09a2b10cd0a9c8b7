"""Management commands, including how they reject bad input."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from semrec.catalog.models import Event, Item
from semrec.strategies.models import Strategy
from semrec.tenants.models import ApiKey, Tenant
from semrec.training.models import ModelVersion, TrainingRun

from ..catalog.test_movielens import write_latest


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), verbosity=0)
    return out.getvalue()


def test_import_creates_tenant(db, tmp_path):
    output = run("semrec_import", "--tenant", "films", "--create-tenant", "--path", str(write_latest(tmp_path / "ml")))
    assert "Imported 3 items" in output
    assert Item.objects.filter(tenant__slug="films").count() == 3


def test_import_unknown_tenant(db, tmp_path):
    with pytest.raises(CommandError) as raised:
        run("semrec_import", "--tenant", "ghost", "--path", str(write_latest(tmp_path / "ml")))
    assert "'ghost' does not exist" in str(raised.value)
    assert not Tenant.objects.filter(slug="ghost").exists()


def test_import_bad_path(tenant, tmp_path):
    with pytest.raises(CommandError) as raised:
        run("semrec_import", "--tenant", tenant.slug, "--path", str(tmp_path / "nowhere"))
    assert "was not found" in str(raised.value)
    assert not Event.objects.exists()


def test_import_no_download(tenant, tmp_path, settings):
    settings.SEMREC_DATA_DIR = str(tmp_path)
    with pytest.raises(CommandError) as raised:
        run("semrec_import", "--tenant", tenant.slug, "--no-download")
    assert "--path" in str(raised.value)


def test_encode_and_train(tenant, tmp_path):
    run("semrec_import", "--tenant", tenant.slug, "--path", str(write_latest(tmp_path / "ml")))
    encoded = run("semrec_encode", "--tenant", tenant.slug)
    trained = run("semrec_train", "--tenant", tenant.slug)
    assert "Encoded 3 items" in encoded
    assert "Trained scorer:collaborative" in trained
    assert ModelVersion.objects.filter(tenant=tenant, is_active=True).count() == 1
    assert set(TrainingRun.objects.filter(tenant=tenant).values_list("status", flat=True)) == {"succeeded"}


def test_encode_skips_unchanged(tenant, tmp_path):
    run("semrec_import", "--tenant", tenant.slug, "--path", str(write_latest(tmp_path / "ml")))
    run("semrec_encode", "--tenant", tenant.slug)
    assert "Encoded 0 items" in run("semrec_encode", "--tenant", tenant.slug)
    Item.objects.filter(tenant=tenant, external_id="1").first().save()
    assert "Encoded 0 items" in run("semrec_encode", "--tenant", tenant.slug)
    item = Item.objects.get(tenant=tenant, external_id="1")
    item.title = "Toy Story, remastered"
    item.save()
    assert "Encoded 1 items" in run("semrec_encode", "--tenant", tenant.slug)


def test_train_without_events(tenant):
    with pytest.raises(CommandError) as raised:
        run("semrec_train", "--tenant", tenant.slug)
    assert "no positive interactions" in str(raised.value)
    failed = TrainingRun.objects.get(tenant=tenant)
    assert failed.status == "failed"
    assert "no positive interactions" in failed.error


def test_unknown_strategy(tenant):
    with pytest.raises(CommandError) as raised:
        run("semrec_encode", "--tenant", tenant.slug, "--strategy", "nope")
    assert "'nope' does not exist" in str(raised.value)


def test_encode_with_missing_plugin(tenant):
    # bulk_create skips save(), as a plugin uninstalled after saving would.
    Strategy.objects.bulk_create([Strategy(tenant=tenant, name="broken", is_default=True, encoder_id="gone")])
    with pytest.raises(CommandError) as raised:
        run("semrec_encode", "--tenant", tenant.slug)
    assert "'gone' is not installed" in str(raised.value)


def test_apikey_prints_working_key(tenant):
    raw = run("semrec_apikey", "--tenant", tenant.slug, "--name", "ci").strip()
    key = ApiKey.authenticate(raw)
    assert key is not None
    assert key.tenant == tenant
    assert key.name == "ci"


def test_apikey_unknown_tenant(db):
    with pytest.raises(CommandError, match="--create-tenant"):
        run("semrec_apikey", "--tenant", "ghost")


def test_apikey_creates_tenant_when_asked(db):
    from semrec.tenants.models import Tenant

    raw = run("semrec_apikey", "--tenant", "new-shop", "--create-tenant").strip()

    assert ApiKey.authenticate(raw).tenant == Tenant.objects.get(slug="new-shop")


def test_apikey_rejects_bad_slug(db):
    from semrec.tenants.models import Tenant

    with pytest.raises(CommandError, match="Invalid tenant slug 'new shop'"):
        run("semrec_apikey", "--tenant", "new shop", "--create-tenant")
    assert not Tenant.objects.exists()


def test_demo_without_serving(db, tmp_path, monkeypatch):
    monkeypatch.setenv("SEMREC_ADMIN_PASSWORD", "a-demo-password-1")
    output = run("semrec_demo", "--path", str(write_latest(tmp_path / "ml")), "--no-serve", "--addr", "127.0.0.1:8123")
    assert "curl -H \"Authorization: Bearer sr_" in output
    assert "http://127.0.0.1:8123/api/v1/users/1/recommendations/" in output
    assert Strategy.objects.get(tenant__slug="demo", is_default=True).scorer_id == "hybrid"
    assert ModelVersion.objects.filter(tenant__slug="demo", is_active=True).exists()

    from django.contrib.auth import authenticate

    assert authenticate(username="admin", password="a-demo-password-1") is not None


def test_demo_rerun_revokes_earlier_key(db, tmp_path, monkeypatch):
    monkeypatch.setenv("SEMREC_ADMIN_PASSWORD", "a-demo-password-1")
    folder = str(write_latest(tmp_path / "ml"))
    first = run("semrec_demo", "--path", folder, "--no-serve")
    second = run("semrec_demo", "--path", folder, "--no-serve")

    first_key = first.split("API key (shown once): ")[1].split()[0]
    second_key = second.split("API key (shown once): ")[1].split()[0]
    assert ApiKey.authenticate(first_key) is None
    assert ApiKey.authenticate(second_key) is not None
    assert "Revoked 1 API key(s)" in second
    assert ApiKey.objects.active().filter(tenant__slug="demo").count() == 1


def test_import_warns_on_other_dataset(tenant, tmp_path):
    from ..catalog.test_movielens import write_1m

    run("semrec_import", "--tenant", tenant.slug, "--path", str(write_latest(tmp_path / "latest")))
    err = io.StringIO()
    call_command("semrec_import", "--tenant", tenant.slug, "--path", str(write_1m(tmp_path / "one-m")), stdout=io.StringIO(), stderr=err, verbosity=0)
    assert "1 existing item(s)" in err.getvalue()
    assert "own tenant" in err.getvalue()


def test_reimport_does_not_warn(tenant, tmp_path):
    folder = write_latest(tmp_path / "latest")
    run("semrec_import", "--tenant", tenant.slug, "--path", str(folder))
    err = io.StringIO()
    call_command("semrec_import", "--tenant", tenant.slug, "--path", str(folder), stdout=io.StringIO(), stderr=err, verbosity=0)
    assert err.getvalue() == ""
