"""Item languages: BCP 47 tags declared by clients, or detected from the script of the text."""

from __future__ import annotations

import re
import unicodedata

#: Maximum length of a stored tag; BCP 47 tags in use are far shorter.
LANGUAGE_TAG_LENGTH = 35

# A primary language subtag of 2-3 letters, then optional script, region or
# variant subtags ("zh", "zh-Hans", "zh-Hant-TW", "pt-BR", "es-419").
_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")

# Scripts whose characters alone identify a language well enough to pick a
# tokenizer. Latin, Cyrillic and Arabic script are shared by many languages.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")

#: Share of letters that must be Han, kana or Hangul before a language is inferred.
DETECTION_THRESHOLD = 0.3


class InvalidLanguageTag(ValueError):
    """A value that is not a well-formed BCP 47 language tag."""


def normalise_language_tag(value: str) -> str:
    """Return ``value`` in the canonical case of BCP 47 (``zh-hans`` becomes ``zh-Hans``).

    Raises :class:`InvalidLanguageTag` for anything that is not a tag; an
    empty string stays empty and means "not declared".
    """
    value = value.strip().replace("_", "-")
    if not value:
        return ""
    if len(value) > LANGUAGE_TAG_LENGTH or not _TAG.match(value):
        raise InvalidLanguageTag(value)

    primary, *rest = value.split("-")
    subtags = [primary.lower()]
    for subtag in rest:
        if len(subtag) == 4 and subtag.isalpha():
            subtags.append(subtag.title())
        elif len(subtag) == 2 and subtag.isalpha():
            subtags.append(subtag.upper())
        else:
            subtags.append(subtag.lower())
    return "-".join(subtags)


def detect_language(text: str) -> str:
    """Infer the language of ``text`` from its script, or return ``""`` when the script is ambiguous.

    Japanese is recognised by kana, Korean by Hangul, Chinese by Han
    characters without kana.
    """
    # NOTE: text in Latin, Cyrillic or Arabic script returns "" (unknown)
    # because the script alone cannot tell English from French or Russian
    # from Ukrainian. Clients that need the difference declare `language`.
    letters = [char for char in text if unicodedata.category(char).startswith("L")]
    if not letters:
        return ""
    sample = "".join(letters)
    han, kana, hangul = (len(pattern.findall(sample)) for pattern in (_HAN, _KANA, _HANGUL))
    minimum = DETECTION_THRESHOLD * len(letters)
    if kana and han + kana >= minimum:
        return "ja"
    if hangul >= minimum:
        return "ko"
    if han >= minimum:
        return "zh"
    return ""


def resolve_language(declared: str, text: str) -> str:
    """Return the declared tag, or the language detected from ``text`` when none was declared."""
    return declared or detect_language(text)
