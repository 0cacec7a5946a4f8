"""Registered sequence-labelling datasets: CoNLL-2003 NER, CoNLL-2000 chunking, WNUT-17.

Each is read by the ``conll`` format (``enso.data.conll``) with its tags converted to IOB2; the
record's ``format.options["scheme"]`` is the scheme of the source files, shown on the card.
Sentence counts per split are checked on every build (``split_rows``), the tag set by
``classes`` (or its size, ``n_classes``).
"""

from __future__ import annotations

from enso.data.records import DataFile, DatasetRecord, Format, GivenSplit, UrlSource

_CONLL03 = ("https://raw.githubusercontent.com/synalp/NER/c0ea07c81ec3512b5047dcd804b0ac2b10a3bdfc"
            "/corpus/CoNLL-2003/")
_WNUT17 = "https://raw.githubusercontent.com/leondz/emerging_entities_17/e52a2d2a71ac1a051ca2d532eef28653c5c02603/"
_CONLL00 = ("https://raw.githubusercontent.com/teropa/nlp/f89bc5a15b516208de1cfe2abe9692b7ed9a43e2"
            "/resources/corpora/conll2000/")


def _iob2(*types: str) -> tuple[str, ...]:
    return tuple(sorted([f"{prefix}-{kind}" for kind in types for prefix in "BI"] + ["O"]))


RECORDS: list[DatasetRecord] = [
    DatasetRecord(
        name="CoNLL2003",
        aliases=("conll03", "conll-2003", "conll2003-ner"),
        task="sequence-labelling",
        description="English newswire (Reuters) sentences with named entities of four types (PER, LOC, ORG, "
                    "MISC): the CoNLL-2003 shared task's English data, train (eng.train), dev (eng.testa) and "
                    "test (eng.testb).",
        files=(DataFile(UrlSource(_CONLL03 + "eng.train",
                                  "eac0822f501353f265383ddf1edb0dcd42a1b6eefd3e383d7074db98c38eb41c"), split="train"),
               DataFile(UrlSource(_CONLL03 + "eng.testa",
                                  "aedc4ccbd1ae9795feaa0e86fe72d195b0258abed9d705b630d1c889276fac1e"), split="dev"),
               DataFile(UrlSource(_CONLL03 + "eng.testb",
                                  "0632f32c090ef31c223135b7fee3187a7cf8e65c4015c7866bb7783428cdd9a6"), split="test")),
        format=Format("conll", {"separator": "space", "token_column": 0, "tag_column": 3, "scheme": "IOB1"}),
        classes=_iob2("LOC", "MISC", "ORG", "PER"), rows=20744, split=GivenSplit(),
        split_rows={"train": 14041, "dev": 3250, "test": 3453},
        license="research use (Reuters Corpus RCV1 terms; annotations by the CoNLL-2003 organisers)",
        citation="Erik F. Tjong Kim Sang and Fien De Meulder. 2003. Introduction to the CoNLL-2003 shared task: "
                 "Language-independent named entity recognition. In Proceedings of CoNLL-2003, pages 142-147.",
        homepage="https://www.clips.uantwerpen.be/conll2003/ner/",
        parsing="'token POS chunk NER' per line, space-separated, the NER tag from column 3; blank lines end "
                "sentences (testa and testb end with an extra one); the 946 / 216 / 231 '-DOCSTART-' lines are "
                "dropped (testb's read '-DOCSTART- -X- -X- O'); tags are IOB1 in the files and stored as IOB2 "
                "(an I-X that starts a span becomes B-X); the two IOB1-invalid B-MISC of eng.train are kept as "
                "the B-MISC they are; 203,621 / 51,362 / 46,435 tokens.",
    ),
    DatasetRecord(
        name="CoNLL2000",
        aliases=("conll00", "conll-2000", "conll2000-chunking"),
        task="sequence-labelling",
        description="Wall Street Journal sentences (Penn Treebank sections 15-18 train, 20 test) split into "
                    "syntactic chunks of eleven types (NP, VP, PP, ...): the CoNLL-2000 chunking shared task.",
        files=(DataFile(UrlSource(_CONLL00 + "train.txt",
                                  "82033cd7a72b209923a98007793e8f9de3abc1c8b79d646c50648eb949b87cea"), split="train"),
               DataFile(UrlSource(_CONLL00 + "test.txt",
                                  "73b7b1e565fa75a1e22fe52ecdf41b6624d6f59dacb591d44252bf4d692b1628"), split="test")),
        format=Format("conll", {"separator": "space", "token_column": 0, "tag_column": 2, "scheme": "IOB2"}),
        # the 23 chunk tags (11 types, B-/I-, and O) of the shared task's data over both files
        classes=None, n_classes=23, rows=10948, split=GivenSplit(), split_rows={"train": 8936, "test": 2012},
        license="research use (Penn Treebank WSJ text; chunk annotation by the CoNLL-2000 organisers)",
        citation="Erik F. Tjong Kim Sang and Sabine Buchholz. 2000. Introduction to the CoNLL-2000 shared task: "
                 "Chunking. In Proceedings of CoNLL-2000 and LLL-2000, pages 127-132.",
        homepage="https://www.clips.uantwerpen.be/conll2000/chunking/",
        parsing="'token POS chunk' per line, space-separated, the chunk tag from column 2 (IOB2 in the files); "
                "blank lines end sentences; 211,727 / 47,377 tokens.",
    ),
    DatasetRecord(
        name="WNUT17",
        aliases=("wnut-17", "wnut2017", "emerging-entities"),
        task="sequence-labelling",
        description="Social-media posts (Twitter, Reddit, YouTube, StackExchange) with rare and emerging named "
                    "entities of six types: the WNUT-17 shared task on novel and emerging entity recognition.",
        files=(DataFile(UrlSource(_WNUT17 + "wnut17train.conll",
                                  "731820e13f71af324c6b55a1575ec2ce59fbaa2a0806f8f0400b98d56cd6a7a5"), split="train"),
               DataFile(UrlSource(_WNUT17 + "emerging.dev.conll",
                                  "e053b752b8155113ca66e7db08af5f2f5f43ab993694e4774f1ec5bad42312d8"), split="dev"),
               DataFile(UrlSource(_WNUT17 + "emerging.test.annotated",
                                  "2aa79b764e56ec9264a1b30fdd9b70195bd00ff400b62edd8f399d5f13c178f0"), split="test")),
        format=Format("conll", {"separator": "tab", "token_column": 0, "tag_column": 1, "scheme": "IOB2"}),
        classes=_iob2("corporation", "creative-work", "group", "location", "person", "product"), rows=5690,
        split=GivenSplit(), split_rows={"train": 3394, "dev": 1009, "test": 1287},
        license="CC BY 4.0",
        citation="Leon Derczynski, Eric Nichols, Marieke van Erp and Nut Limsopatham. 2017. Results of the WNUT2017 "
                 "shared task on novel and emerging entity recognition. In Proceedings of the 3rd Workshop on "
                 "Noisy User-generated Text, pages 140-147.",
        homepage="https://noisy-text.github.io/2017/emerging-rare-entities.html",
        parsing="'token<TAB>tag' per line (IOB2), split on tabs only; any line of only spaces and tabs ends a "
                "sentence (2,394 of the train file's separators are a line holding one tab); tokens keep the "
                "U+200B and U+FEFF inside them (dev); 1,975 / 836 / 1,079 entities.",
    ),
]
