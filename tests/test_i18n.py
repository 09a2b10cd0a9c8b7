"""The zh-Hans catalogue: complete, compiled, and served by the API, the models and the plugins."""

import ast
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from rest_framework.test import APIClient
from semrec_explain import HistoryExplainer

from semrec.catalog.models import EventKind
from semrec.plugins import ScoredItem
from semrec.plugins.testing import space_fan_context
from semrec.tenants.authentication import HasTenant
from semrec.tenants.models import ApiKey, Tenant

CATALOGUE_DIR = Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES"
PO_PATH = CATALOGUE_DIR / "django.po"
MO_PATH = CATALOGUE_DIR / "django.mo"
RECOMMENDATIONS_URL = "/api/v1/users/u1/recommendations/"

CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


@dataclass
class PoEntry:
    line: int
    flags: set[str] = field(default_factory=set)
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstrs: dict[int, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The entry's key in a compiled .mo: context and id joined by EOT, as GNU gettext does."""
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"


def parse_po(path: Path) -> list[PoEntry]:
    """Parse the entries of a .po file, skipping obsolete ``#~`` entries."""
    entries: list[PoEntry] = []
    entry: PoEntry | None = None
    target: tuple[str, int] | None = None

    def start_entry(line_number: int) -> PoEntry:
        nonlocal entry
        if entry is None:
            entry = PoEntry(line=line_number)
            entries.append(entry)
        return entry

    for line_number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            entry, target = None, None
        elif line.startswith("#,"):
            start_entry(line_number).flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert entry is not None and target is not None, f"{path}:{line_number}: string without a keyword"
            _append(entry, target, ast.literal_eval(line))
        else:
            keyword, _space, value = line.partition(" ")
            current = start_entry(line_number)
            match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr") or match:
                target = ("msgstr", int(match.group(1))) if match else (keyword, 0)
                if keyword in ("msgctxt", "msgid_plural"):
                    setattr(current, keyword, "")
                _append(current, target, ast.literal_eval(value))
            else:
                raise AssertionError(f"{path}:{line_number}: unknown keyword {keyword!r}")
    return entries


def _append(entry: PoEntry, target: tuple[str, int], text: str) -> None:
    name, index = target
    if name == "msgstr":
        entry.msgstrs[index] = entry.msgstrs.get(index, "") + text
    else:
        setattr(entry, name, getattr(entry, name) + text)


@pytest.fixture(scope="module")
def po_entries() -> list[PoEntry]:
    return parse_po(PO_PATH)


@pytest.fixture(scope="module")
def messages(po_entries) -> list[PoEntry]:
    """Every entry but the header."""
    return [entry for entry in po_entries if entry.msgid]


def test_catalogue_files_exist():
    assert PO_PATH.is_file(), f"missing {PO_PATH}; run manage.py makemessages -l zh_Hans"
    assert MO_PATH.is_file(), f"missing {MO_PATH}; run manage.py compilemessages --ignore=.venv"


def test_catalogue_has_messages(messages):
    assert len(messages) > 100


def test_catalogue_includes_plugins(messages):
    """makemessages must scan plugins/ as well as platform/."""
    assert "Similar to items in your history." in {entry.msgid for entry in messages}


def test_catalogue_header_not_fuzzy(po_entries):
    header = po_entries[0]
    assert header.msgid == ""
    assert "fuzzy" not in header.flags


def test_catalogue_header_language(po_entries):
    assert "Language: zh_Hans\n" in po_entries[0].msgstrs[0]


def test_catalogue_no_fuzzy_entries(messages):
    fuzzy = [f"line {entry.line}: {entry.msgid!r}" for entry in messages if "fuzzy" in entry.flags]
    assert fuzzy == []


def test_catalogue_no_untranslated_entries(messages):
    untranslated = [
        f"line {entry.line}: {entry.msgid!r}"
        for entry in messages
        if not entry.msgstrs or not all(entry.msgstrs.values())
    ]
    assert untranslated == []


def test_catalogue_placeholders_kept(messages):
    """Each translation has exactly the %(name)s placeholders of its msgid.

    Chinese has one plural form, which translates the plural msgid, so a
    plural entry is checked against that.
    """
    mismatched = [
        f"line {entry.line}: {entry.msgid!r}"
        for entry in messages
        for msgstr in entry.msgstrs.values()
        if sorted(PLACEHOLDER.findall(entry.msgid_plural or entry.msgid)) != sorted(PLACEHOLDER.findall(msgstr))
    ]
    assert mismatched == []


def test_compiled_catalogue_matches_po(messages):
    """The .mo contains every translation of the .po, so a missed compilemessages run fails here."""
    with MO_PATH.open("rb") as mo_file:
        compiled = gettext.GNUTranslations(mo_file)._catalog
    stale = [
        f"line {entry.line}: {entry.msgid!r}"
        for entry in messages
        if entry.msgid_plural is None and compiled.get(entry.key) != entry.msgstrs[0]
    ]
    assert stale == []


def _get_recommendations(language: str, **headers):
    response = APIClient().get(RECOMMENDATIONS_URL, HTTP_ACCEPT_LANGUAGE=language, **headers)
    return response, response.json()["error"]


def test_unauthenticated_401_chinese():
    response, error = _get_recommendations("zh-Hans")
    with translation.override("zh-hans"):
        expected = str(HasTenant.message)

    assert response.status_code == 401
    assert error["code"] == "not_authenticated"
    assert error["message"] == expected
    assert CJK.search(error["message"]), error["message"]
    assert response["Content-Language"] == "zh-hans"


def test_unauthenticated_401_english():
    response, error = _get_recommendations("en")
    with translation.override("en"):
        expected = str(HasTenant.message)

    assert response.status_code == 401
    assert error["code"] == "not_authenticated"
    assert error["message"] == expected
    assert not CJK.search(error["message"]), error["message"]


def test_invalid_api_key_chinese():
    """A message from semrec's own catalogue, not only from Django REST framework's."""
    response, error = _get_recommendations("zh-Hans", HTTP_AUTHORIZATION="Bearer not-a-key")

    assert response.status_code == 401
    assert error["code"] == "invalid_api_key"
    assert error["message"] == "API 密钥无效。请以 'Authorization: Bearer <key>' 的形式发送有效的密钥。"


def test_invalid_api_key_english():
    response, error = _get_recommendations("en", HTTP_AUTHORIZATION="Bearer not-a-key")

    assert response.status_code == 401
    assert error["code"] == "invalid_api_key"
    assert error["message"] == "Invalid API key. Send a valid key as 'Authorization: Bearer <key>'."


def test_model_verbose_names_chinese():
    with translation.override("zh-hans"):
        assert str(Tenant._meta.verbose_name) == "租户"
        assert str(ApiKey._meta.verbose_name_plural) == "API 密钥"
        assert str(Tenant._meta.get_field("created_at").verbose_name) == "创建时间"


def test_model_verbose_names_english():
    with translation.override("en"):
        assert str(Tenant._meta.verbose_name) == "tenant"


def test_choice_labels_chinese():
    with translation.override("zh-hans"):
        assert str(EventKind.ADD_TO_CART.label) == "加入购物车"


def test_explainer_reason_chinese():
    """Plugins outside platform/ are translated from the same catalogue."""
    with translation.override("zh-hans"):
        [explanation] = HistoryExplainer({}).explain([ScoredItem(3, 1.0)], space_fan_context())

    assert explanation.reason == "与你历史记录中的物品相似。"


ROOT = Path(__file__).resolve().parents[1]
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "pgettext", "ngettext"}
TEMPLATE_TRANSLATE = re.compile(r"""{%\s*(?:translate|trans)\s+"([^"]+)"\s*%}""")


def _marked_strings() -> set[str]:
    """Every literal passed to gettext in the project's Python files and templates."""
    found = set()
    for path in [*(ROOT / "platform").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) in GETTEXT_NAMES
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    for path in (ROOT / "templates").rglob("*.html"):
        found.update(TEMPLATE_TRANSLATE.findall(path.read_text()))
    return found


def test_every_marked_string_in_catalogue(messages):
    missing = _marked_strings() - {entry.msgid for entry in messages}
    assert not missing, f"run makemessages -l zh_Hans and translate: {sorted(missing)}"
