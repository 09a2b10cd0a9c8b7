"""Lexical encoder plugin: TF-IDF with jieba word segmentation for Chinese, no torch needed."""

from semrec.plugins import hookimpl

from .encoder import LexicalEncoder


@hookimpl
def register_encoders():
    return [LexicalEncoder]
