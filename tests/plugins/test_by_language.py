"""The by_language encoder with real sub-encoders: all-MiniLM-L6-v2 for English, the lexical encoder for Chinese."""

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from semrec.plugins import PluginConfigError, get_registry
from semrec.plugins.testing import EncoderContract, tiny_item_texts
from semrec.strategies.models import Strategy
from semrec_lexical import LexicalEncoder
from semrec_multilingual import ByLanguageEncoder
from semrec_transformers import TransformersEncoder

LEXICAL = {"dimension": 16, "max_features": 256, "min_df": 1}
CONFIG = {"languages": {"zh": {"id": "lexical", "config": LEXICAL}}, "default": {"id": "transformers"}}
MINILM_DIMENSION = 384

ENGLISH = ["A rocket launches astronauts into orbit.", "Tomato soup with fresh basil."]
CHINESE = ["火箭发射升空，宇航员进入轨道。", "番茄炒蛋是一道家常菜。"]


def fitted_encoder(config=CONFIG) -> ByLanguageEncoder:
    encoder = ByLanguageEncoder(config)
    texts, languages = tiny_item_texts()
    encoder.fit_texts(texts, languages)
    return encoder


def config_error(config) -> PluginConfigError:
    with pytest.raises(PluginConfigError) as raised:
        ByLanguageEncoder.validate_config(config)
    return raised.value


def reasons(error: PluginConfigError) -> str:
    return " | ".join(f"{entry['field']}: {entry['reason']}" for entry in error.errors)


class TestByLanguageContract(EncoderContract):
    @pytest.fixture
    def plugin(self):
        return ByLanguageEncoder(CONFIG)


# Blocks and routing


def test_dimension_is_sum_of_blocks():
    encoder = ByLanguageEncoder(CONFIG)

    assert encoder.dimension == MINILM_DIMENSION + LEXICAL["dimension"]
    assert encoder.block_slice("default") == slice(0, MINILM_DIMENSION)
    assert encoder.block_slice("zh") == slice(MINILM_DIMENSION, MINILM_DIMENSION + LEXICAL["dimension"])


def test_registered_as_by_language():
    assert get_registry().get("encoder", "by_language") is ByLanguageEncoder


@pytest.mark.parametrize(
    ("language", "block"),
    [("zh", "zh"), ("zh-Hans", "zh"), ("zh-Hant-TW", "zh"), ("ZH-hant", "zh"), ("en", "default"), ("ja", "default"), ("", "default"), ("not a tag", "default")],
)
def test_language_routes_to_block(language, block):
    assert ByLanguageEncoder(CONFIG).block_for(language) == block


def test_longest_tag_wins():
    config = {"languages": {"zh": {"id": "lexical", "config": LEXICAL}, "zh-Hant": {"id": "lexical", "config": {**LEXICAL, "dimension": 8}}}}
    encoder = ByLanguageEncoder(config)

    assert encoder.block_for("zh-Hant-HK") == "zh-Hant"
    assert encoder.block_for("zh-Hans") == "zh"
    assert encoder.block_for("zh") == "zh"


def test_block_order_ignores_key_order():
    forward = ByLanguageEncoder({"languages": {"ja": {"id": "lexical", "config": LEXICAL}, "zh": {"id": "lexical", "config": LEXICAL}}})
    backward = ByLanguageEncoder({"languages": {"zh": {"id": "lexical", "config": LEXICAL}, "ja": {"id": "lexical", "config": LEXICAL}}})

    assert forward.block_slice("ja") == backward.block_slice("ja")
    assert forward.block_slice("zh") == backward.block_slice("zh")


def test_vector_fills_only_its_block():
    encoder = fitted_encoder()

    vectors = encoder.encode(ENGLISH + CHINESE, languages=["en", "en", "zh-Hans", "zh-Hans"])

    default, chinese = encoder.block_slice("default"), encoder.block_slice("zh")
    assert np.count_nonzero(vectors[:2, chinese]) == 0
    assert np.count_nonzero(vectors[2:, default]) == 0
    assert np.all(np.linalg.norm(vectors[:2, default], axis=1) > 0.99)
    assert np.all(np.linalg.norm(vectors[2:, chinese], axis=1) > 0.99)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_cosine_within_language_is_sub_encoders():
    encoder = fitted_encoder()
    minilm = TransformersEncoder({})
    lexical = encoder.sub_encoders["zh"]

    vectors = encoder.encode(ENGLISH + CHINESE, languages=["en", "en", "zh-Hans", "zh-Hans"])

    english = minilm.encode(ENGLISH)
    chinese = lexical.encode(CHINESE, languages=["zh-Hans", "zh-Hans"])
    assert float(vectors[0] @ vectors[1]) == pytest.approx(float(english[0] @ english[1]), abs=1e-5)
    assert float(vectors[2] @ vectors[3]) == pytest.approx(float(chinese[0] @ chinese[1]), abs=1e-5)
    assert float(vectors[0] @ vectors[2]) == 0.0


def test_undeclared_language_detected_from_script():
    encoder = fitted_encoder()

    declared = encoder.encode(CHINESE, languages=["zh-Hans", "zh-Hans"])
    detected = encoder.encode(CHINESE, languages=["", ""])
    without = encoder.encode(CHINESE)

    np.testing.assert_allclose(detected, declared, atol=1e-6)
    np.testing.assert_allclose(without, declared, atol=1e-6)


def test_languages_length_mismatch_rejected():
    with pytest.raises(ValueError, match="2 texts but 1 languages"):
        ByLanguageEncoder(CONFIG).encode(ENGLISH, languages=["en"])


def test_query_routed_by_detected_language():
    encoder = fitted_encoder()

    english, chinese = encoder.encode_queries(["rocket launch into orbit", "火箭 宇航员"])

    assert np.count_nonzero(english[encoder.block_slice("zh")]) == 0
    assert np.count_nonzero(chinese[encoder.block_slice("default")]) == 0
    np.testing.assert_allclose(encoder.encode_query("火箭 宇航员"), chinese, atol=1e-6)


def test_query_uses_sub_encoders_query_prefix():
    config = {"languages": {"zh": {"id": "lexical", "config": LEXICAL}}, "default": {"id": "transformers", "config": {"query_prefix": "query: "}}}
    encoder = ByLanguageEncoder(config)

    query = encoder.encode_query("rocket launch")

    expected = TransformersEncoder({}).encode(["query: rocket launch"])[0]
    np.testing.assert_allclose(query[encoder.block_slice("default")], expected, atol=1e-5)


# Fitting on texts


def test_fits_when_a_sub_encoder_does():
    assert ByLanguageEncoder(CONFIG).fits_on_texts
    assert ByLanguageEncoder(CONFIG).trainable
    assert not ByLanguageEncoder(CONFIG).is_fitted

    neural_only = ByLanguageEncoder({"languages": {"zh": {"id": "transformers"}}})
    assert not neural_only.fits_on_texts
    assert neural_only.is_fitted
    with pytest.raises(NotImplementedError):
        neural_only.fit_texts(["text"])


def test_fit_uses_texts_of_its_language():
    encoder = ByLanguageEncoder(CONFIG)
    texts, languages = tiny_item_texts()

    metrics = encoder.fit_texts(texts, languages)

    chinese_count = sum(language.startswith("zh") for language in languages)
    assert metrics["zh.texts"] == chinese_count
    assert metrics["zh.documents"] == chinese_count
    alone = LexicalEncoder(LEXICAL)
    alone.fit_texts([t for t, lang in zip(texts, languages) if lang.startswith("zh")], ["zh-Hans"] * chinese_count)
    np.testing.assert_allclose(
        encoder.encode(CHINESE, languages=["zh-Hans"] * 2)[:, encoder.block_slice("zh")],
        alone.encode(CHINESE, languages=["zh-Hans"] * 2),
        atol=1e-6,
    )


def test_block_without_texts_stays_unfitted():
    encoder = ByLanguageEncoder(CONFIG)

    metrics = encoder.fit_texts(ENGLISH, ["en", "en"])

    assert metrics == {"zh.texts": 0}
    assert encoder.is_fitted
    assert not encoder.sub_encoders["zh"].is_fitted
    restored = ByLanguageEncoder(CONFIG)
    restored.load(encoder.dump())
    assert restored.is_fitted
    assert not restored.sub_encoders["zh"].is_fitted


def test_state_of_other_config_rejected():
    state = fitted_encoder().dump()
    other = ByLanguageEncoder({"languages": {"zh": {"id": "lexical", "config": {**LEXICAL, "dimension": 8}}}})

    with pytest.raises(ValueError, match="Fit the encoder again"):
        other.load(state)


@pytest.mark.parametrize("blob", [b"", b"not a state", b"semrec-by-language\n\x00\x00\x00\x05{oops"])
def test_damaged_state_rejected(blob):
    with pytest.raises(ValueError, match="Fit the encoder again"):
        ByLanguageEncoder(CONFIG).load(blob)


def test_truncated_state_rejected():
    state = fitted_encoder().dump()

    with pytest.raises(ValueError, match="truncated"):
        ByLanguageEncoder(CONFIG).load(state[:-10])


def test_sub_fit_error_names_block():
    encoder = ByLanguageEncoder({"languages": {"zh": {"id": "lexical", "config": {**LEXICAL, "min_df": 5}}}})

    with pytest.raises(ValueError, match="block 'zh'.*min_df"):
        encoder.fit_texts(CHINESE, ["zh-Hans", "zh-Hans"])


# Configuration


def test_defaults_are_lexical_for_chinese():
    config = ByLanguageEncoder.validate_config({})

    assert config.default.id == "transformers"
    assert list(config.languages) == ["zh"]
    assert config.languages["zh"].id == "lexical"


def test_tags_stored_in_canonical_case():
    config = ByLanguageEncoder.validate_config({"languages": {"zh-hant": {"id": "lexical"}, "PT_br": {"id": "lexical"}}})

    assert sorted(config.languages) == ["pt-BR", "zh-Hant"]


def test_sub_config_defaults_dropped():
    explicit = ByLanguageEncoder.validate_config({"languages": {"zh": {"id": "lexical", "config": {"dimension": 256, "svd": True}}}})

    assert explicit.languages["zh"].config == {}


@pytest.mark.parametrize("tag", ["chinese!", "z", "", "zh--Hans", "default"])
def test_invalid_language_tag_rejected(tag):
    error = config_error({"languages": {tag: {"id": "lexical"}}})

    assert error.errors[0]["field"] == "languages"
    assert f"'{tag}' is not a BCP 47 language tag" in error.errors[0]["reason"]
    assert "'zh-Hant'" in error.errors[0]["reason"]


def test_duplicate_tags_rejected():
    error = config_error({"languages": {"zh-Hans": {"id": "lexical"}, "zh-hans": {"id": "lexical"}}})

    assert "both mean 'zh-Hans'" in reasons(error)


@pytest.mark.parametrize("where", ["languages", "default"])
def test_unknown_encoder_rejected(where):
    ref = {"id": "no-such-encoder"}
    config = {"languages": {"zh": ref}} if where == "languages" else {"default": ref}

    error = config_error(config)

    assert error.errors[0]["field"] == where
    assert "'no-such-encoder' is not installed" in error.errors[0]["reason"]
    assert "lexical" in error.errors[0]["reason"]
    assert "transformers" in error.errors[0]["reason"]


@pytest.mark.parametrize("where", ["languages", "default"])
def test_nested_by_language_rejected(where):
    ref = {"id": "by_language", "config": {}}
    config = {"languages": {"ja": ref}} if where == "languages" else {"default": ref}

    error = config_error(config)

    assert error.errors[0]["field"] == where
    assert "cannot contain another by_language encoder" in error.errors[0]["reason"]


def test_invalid_sub_config_rejected():
    error = config_error({"languages": {"zh": {"id": "lexical", "config": {"dimension": 1, "colour": "red"}}}})

    reason = error.errors[0]["reason"]
    assert "languages.zh: invalid configuration for encoder 'lexical'" in reason
    assert "dimension" in reason
    assert "colour" in reason


def test_sub_encoder_without_id_rejected():
    error = config_error({"default": {"config": {}}})

    assert error.errors[0]["field"].startswith("default")


def test_dimension_over_hnsw_limit_rejected():
    error = config_error({"languages": {"zh": {"id": "lexical", "config": {"dimension": 1800}}}})

    reason = reasons(error)
    assert "2184 dimensions" in reason
    assert "default: 384" in reason
    assert "zh: 1800" in reason
    assert "more than 2000" in reason
    assert "Lower the dimension of a sub-encoder" in reason


def test_dimension_at_hnsw_limit_accepted():
    config = ByLanguageEncoder.validate_config({"languages": {"zh": {"id": "lexical", "config": {"dimension": 2000 - MINILM_DIMENSION}}}})

    assert ByLanguageEncoder(config).dimension == 2000


def test_unknown_key_rejected():
    error = config_error({"language": {"zh": {"id": "lexical"}}})

    assert error.errors[0]["field"] == "language"


def test_strategy_with_bad_config_not_saved(tenant):
    strategy = Strategy(
        tenant=tenant, name="mixed", encoder_id="by_language", encoder_config={"languages": {"zh!": {"id": "lexical"}}}, scorer_id="content"
    )

    with pytest.raises(ValidationError) as raised:
        strategy.full_clean()

    assert "is not a BCP 47 language tag" in str(raised.value.message_dict["encoder_id"])
    assert not Strategy.objects.filter(name="mixed").exists()
