"""Word tokens for the word-vector featurizers, split the way GloVe's and word2vec's corpora were."""

from __future__ import annotations

import re
from collections.abc import Iterable

# "don't" -> "do", "n't"; "it's" -> "it", "'s"; "e-mail" and "3.5" stay whole; other punctuation alone.
_TOKEN = re.compile(r"\w+(?=n't\b)|n't\b|'\w+|\w+(?:[-.,]\w+)*|\.\.\.|--|[^\w\s]", re.UNICODE)


def word_tokens(text: str, lowercase: bool = True) -> list[str]:
    if lowercase:
        text = text.lower()
    text = text.replace("\u2019", "'").replace("`", "'")
    return _TOKEN.findall(text)


def tokenize_all(texts: Iterable[str], lowercase: bool = True) -> list[list[str]]:
    return [word_tokens(text, lowercase) for text in texts]
