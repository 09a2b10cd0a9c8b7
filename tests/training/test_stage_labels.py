"""Stage names stored on training runs are shown in the admin's language."""

from django.utils import translation

from semrec.training.models import stage_label


def test_fixed_stage_translated():
    with translation.override("zh-hans"):
        assert stage_label("encode items") == "编码物品"


def test_plugin_stage_keeps_plugin_id():
    with translation.override("zh-hans"):
        assert stage_label("train softmax") == "训练 softmax"


def test_unknown_stage_unchanged():
    with translation.override("zh-hans"):
        assert stage_label("warm up cache") == "warm up cache"


def test_english_labels_match_stored_names():
    with translation.override("en"):
        assert stage_label("rebuild user vectors") == "rebuild user vectors"
        assert stage_label("fit lexical") == "fit lexical"
