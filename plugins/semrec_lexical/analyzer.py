"""Split text into terms: jieba words or character n-grams for Chinese, word n-grams elsewhere.

Text is cut into runs by script first, so a Chinese title that quotes an
English name ("在DEA的回收日") gives Chinese words and the English word alike.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger(__name__)

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KANA = "\u3040-\u30ff\u31f0-\u31ff"
# One alternative per run type; "word" is any run of letters and digits
# outside the Han and kana blocks (Latin, Cyrillic, Hangul, ...).
_RUNS = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<kana>[{_KANA}]+)|(?P<word>[^\W_{_HAN}{_KANA}]+)")

#: Languages whose Han characters are not Chinese words, so jieba must not segment them.
_NON_CHINESE_HAN = ("ja", "ko")

HanSegmenter = Literal["jieba", "chars", "jieba+chars"]

_jieba_lock = threading.Lock()
_jieba_tokenizer = None


def _jieba():
    """Return the process-wide jieba tokenizer, loading its dictionary on first use."""
    global _jieba_tokenizer
    with _jieba_lock:
        if _jieba_tokenizer is None:
            import jieba

            # jieba logs its dictionary loading at DEBUG through a handler of its own.
            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            logger.info("Loaded the jieba dictionary for Chinese word segmentation")
            _jieba_tokenizer = tokenizer
    return _jieba_tokenizer


@dataclass(frozen=True)
class Analyzer:
    """Turns one text into a list of terms; the same analyzer must serve fitting and encoding."""

    han_segmenter: HanSegmenter = "jieba"
    word_ngram_max: int = 2
    char_ngram_max: int = 2

    def __call__(self, text: str, language: str = "") -> list[str]:
        words: list[str] = []
        characters: list[str] = []
        chinese = not language.lower().startswith(_NON_CHINESE_HAN)
        for kind, run in _runs(text):
            if kind == "word":
                words.append(run.lower())
            elif kind == "han" and chinese and self.han_segmenter != "chars":
                words.extend(_jieba_words(run))
                if self.han_segmenter == "jieba+chars":
                    characters.extend(_char_ngrams(run, self.char_ngram_max))
            else:
                characters.extend(_char_ngrams(run, self.char_ngram_max))
        return _word_ngrams(words, self.word_ngram_max) + characters


def _runs(text: str) -> Iterator[tuple[str, str]]:
    for match in _RUNS.finditer(text):
        yield match.lastgroup, match.group()


def _jieba_words(run: str) -> list[str]:
    return [word for word in _jieba().cut(run, HMM=True) if word.strip()]


def _char_ngrams(run: str, max_n: int) -> list[str]:
    # The "#" marks character n-grams, so the character 王 and the word 王 are different terms.
    return [f"#{run[start:start + n]}" for n in range(1, max_n + 1) for start in range(len(run) - n + 1)]


def _word_ngrams(words: list[str], max_n: int) -> list[str]:
    terms = list(words)
    for n in range(2, max_n + 1):
        terms.extend(" ".join(words[start : start + n]) for start in range(len(words) - n + 1))
    return terms
