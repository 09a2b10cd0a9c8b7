"""The lexical encoder: term analysis, fitting, saved state and the encoder contract."""

import numpy as np
import pytest

from semrec.plugins import PluginConfigError, get_registry
from semrec.plugins.testing import EncoderContract
from semrec_lexical import LexicalEncoder
from semrec_lexical.analyzer import Analyzer

CORPUS = [
    "火箭发射升空，宇航员进入轨道。",
    "宇航员在空间站完成太空行走。",
    "新的运载火箭明天发射，前往月球轨道。",
    "番茄炒蛋是一道家常菜，做法简单。",
    "红烧肉的做法：先把五花肉切块。",
    "这道家常菜需要番茄和鸡蛋。",
    "A rocket launches astronauts into orbit.",
    "Tomato soup recipe with fresh basil.",
]
SPACE, COOKING = [0, 1, 2], [3, 4, 5]


def fitted(config=None) -> LexicalEncoder:
    encoder = LexicalEncoder({"dimension": 4, "min_df": 1, "max_features": 200, **(config or {})})
    encoder.fit_texts(CORPUS)
    return encoder


class TestLexicalContract(EncoderContract):
    @pytest.fixture
    def plugin(self):
        return fitted()


class TestUnfittedContract(EncoderContract):
    @pytest.fixture
    def plugin(self):
        return LexicalEncoder({})


def test_registered_by_entry_point():
    assert get_registry().get("encoder", "lexical") is LexicalEncoder


def test_chinese_words_segmented():
    terms = Analyzer(han_segmenter="jieba", word_ngram_max=1)("宇航员进入轨道")
    assert "宇航员" in terms
    assert "轨道" in terms


def test_mixed_script_keeps_english_words():
    terms = Analyzer(han_segmenter="jieba", word_ngram_max=1)("在DEA的回收日")
    assert "dea" in terms
    assert "回收" in terms


def test_character_ngrams_marked():
    terms = Analyzer(han_segmenter="chars", char_ngram_max=2)("轨道")
    assert terms == ["#轨", "#道", "#轨道"]


def test_japanese_han_not_segmented_by_jieba():
    analyzer = Analyzer(han_segmenter="jieba", word_ngram_max=1, char_ngram_max=1)
    assert analyzer("東京", "ja") == ["#東", "#京"]
    assert analyzer("東京", "zh") == ["東京"]


def test_word_bigrams_added():
    terms = Analyzer(word_ngram_max=2)("Fresh basil soup")
    assert "fresh basil" in terms
    assert "basil soup" in terms


def test_same_topic_closer_after_fit():
    encoder = fitted()
    vectors = encoder.encode(CORPUS)
    similarity = vectors @ vectors.T
    within = np.mean([similarity[a, b] for a in SPACE for b in SPACE if a != b])
    across = np.mean([similarity[a, b] for a in SPACE for b in COOKING])
    assert within > across + 0.3


def test_fit_reports_metrics():
    metrics = LexicalEncoder({"dimension": 4, "min_df": 1, "max_features": 200}).fit_texts(CORPUS)
    assert metrics["documents"] == len(CORPUS)
    assert 4 <= metrics["kept_features"] <= 200
    assert 0 < metrics["explained_variance"] <= 1


def test_state_round_trips():
    encoder = fitted()
    restored = LexicalEncoder(encoder.config)
    restored.load(encoder.dump())
    assert restored.is_fitted
    np.testing.assert_allclose(restored.encode(CORPUS), encoder.encode(CORPUS), atol=5e-3)


def test_state_of_other_config_rejected():
    blob = fitted().dump()
    other = LexicalEncoder({"dimension": 8, "min_df": 1, "max_features": 200})
    with pytest.raises(ValueError, match="dimension 4 \\(configured: 8\\)"):
        other.load(blob)


def test_garbage_state_rejected():
    with pytest.raises(ValueError, match="not a saved lexical encoder state"):
        LexicalEncoder({}).load(b"not a state")


def test_dump_before_fit_explains():
    with pytest.raises(ValueError, match="fit_texts"):
        LexicalEncoder({}).dump()


def test_fit_on_interactions_explains():
    with pytest.raises(NotImplementedError, match="item texts"):
        LexicalEncoder({}).fit(None)


def test_too_few_terms_explains():
    encoder = LexicalEncoder({"dimension": 2, "max_features": 10, "min_df": 5})
    with pytest.raises(ValueError, match="min_df=5"):
        encoder.fit_texts(["one text", "another text"])


def test_small_corpus_pads_components():
    encoder = LexicalEncoder({"dimension": 64, "min_df": 1, "max_features": 200})
    encoder.fit_texts(CORPUS)
    vectors = encoder.encode(CORPUS)
    assert vectors.shape == (len(CORPUS), 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_without_svd_hashes_into_dimension():
    encoder = fitted({"svd": False, "dimension": 512})
    vectors = encoder.encode(CORPUS)
    assert vectors.shape == (len(CORPUS), 512)
    assert (vectors >= 0).all()
    assert encoder.model_name == "semrec-lexical/tfidf-hashing-512"


def test_text_without_terms_gives_zero_vector():
    assert not fitted().encode(["。。。"]).any()


def test_languages_change_segmentation():
    encoder = LexicalEncoder({"svd": False, "dimension": 1024, "han_segmenter": "jieba", "char_ngram_max": 1})
    as_chinese, as_japanese = encoder.encode(["東京大学", "東京大学"], languages=["zh", "ja"])
    assert not np.allclose(as_chinese, as_japanese)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"dimension": 2001}, "dimension"),
        ({"dimension": 300, "max_features": 100}, "(root)"),
        ({"han_segmenter": "icu"}, "han_segmenter"),
        ({"hash_features": 10}, "hash_features"),
    ],
)
def test_invalid_config_rejected(config, field):
    with pytest.raises(PluginConfigError) as raised:
        LexicalEncoder.validate_config(config)
    assert field in {error["field"] for error in raised.value.errors}
