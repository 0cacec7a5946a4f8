"""Registered sentence-pair datasets: SICK-E (entailment) and MRPC (paraphrase).

Both are read by the ``pair_tsv`` format (``enso.data.pair_formats``): a tab-separated table
with a header, two text columns and a label column. Pair counts per split are checked on
every build (``split_rows``), the label set by ``classes``.
"""

from __future__ import annotations

from enso.data.records import DataFile, DatasetRecord, Format, GivenSplit, UrlSource

_SICK = ("https://raw.githubusercontent.com/brmson/dataset-sts/e1d3375f5b3bc24f21aa4e46f96eb379e9fc1081"
         "/data/sts/sick2014/")
_MRPC = ("https://raw.githubusercontent.com/wasiahmad/paraphrase_identification/"
         "88b208d0d094ab945d2401d9393531be1fec0076/dataset/msr-paraphrase-corpus/")

SICK_LABELS = ("CONTRADICTION", "ENTAILMENT", "NEUTRAL")
#: MRPC's labels as published: "1" a paraphrase (the positive class: it sorts second, as ``f1`` takes it), "0" not
MRPC_LABELS = ("0", "1")

RECORDS: list[DatasetRecord] = [
    DatasetRecord(
        name="SICK",
        aliases=("SICK-E", "sick-entailment", "sick2014"),
        task="pair-classification",
        description="Sentence pairs from image and video captions labelled ENTAILMENT, CONTRADICTION or "
                    "NEUTRAL (SICK-E, the entailment half of SICK; SemEval-2014 Task 1 release): train, trial "
                    "(stored as the dev split) and test.",
        files=(DataFile(UrlSource(_SICK + "SICK_train.txt",
                                  "266cf8047149bd1d68138dd30439f3122bff30069740ac6705bb6197d9f1b48e"), split="train"),
               DataFile(UrlSource(_SICK + "SICK_trial.txt",
                                  "5a88cfb62f8c6bd2a3cce0f2421ba2cb8c2be5ab4a800f6f01e2c64aafb7db56"), split="dev"),
               DataFile(UrlSource(_SICK + "SICK_test_annotated.txt",
                                  "2b8aa806658d6fc23c6824c83776c2d4fee7556000817b5ec0f982861413b7d0"),
                        split="test")),
        format=Format("pair_tsv", {"text_a_column": "sentence_A", "text_b_column": "sentence_B",
                                   "label_column": "entailment_judgment"}),
        classes=SICK_LABELS, rows=9927, split=GivenSplit(), split_rows={"train": 4500, "dev": 500, "test": 4927},
        license="CC BY-NC-SA 3.0",
        citation="Marco Marelli, Stefano Menini, Marco Baroni, Luisa Bentivogli, Raffaella Bernardi and Roberto "
                 "Zamparelli. 2014. A SICK cure for the evaluation of compositional distributional semantic "
                 "models. In Proceedings of LREC 2014, pages 216-223.",
        homepage="https://marcobaroni.org/composes/sick.html",
        parsing="tab-separated with header 'pair_ID sentence_A sentence_B relatedness_score "
                "entailment_judgment', no quoting; text_a from sentence_A, text_b from sentence_B, the label "
                "from entailment_judgment as published (the relatedness score is not kept); the test file's "
                "CRLF line ends and sentences' trailing spaces are stripped; train NEUTRAL 2,536 / ENTAILMENT "
                "1,299 / CONTRADICTION 665.",
    ),
    DatasetRecord(
        name="MRPC",
        aliases=("msrp", "msr-paraphrase", "microsoft-paraphrase"),
        task="pair-classification",
        description="Sentence pairs from news articles labelled 1 (the two sentences are paraphrases, the "
                    "positive class) or 0: the Microsoft Research Paraphrase Corpus with its train and test "
                    "split.",
        files=(DataFile(UrlSource(_MRPC + "msr_paraphrase_train.txt",
                                  "61a88818ec384d8465297dda1883b469f1b22d442ab90183d13e06233b180591"),
                        encoding="utf-8-sig", split="train"),
               DataFile(UrlSource(_MRPC + "msr_paraphrase_test.txt",
                                  "0360d0d3427a0ae14882e2b3a799df0fab6cb5203d5e8ee481949283da62acb6"),
                        encoding="utf-8-sig", split="test")),
        format=Format("pair_tsv", {"text_a_column": "#1 String", "text_b_column": "#2 String",
                                   "label_column": "Quality"}),
        classes=MRPC_LABELS, rows=5801, split=GivenSplit(), split_rows={"train": 4076, "test": 1725},
        license="Microsoft Research Shared Source License",
        citation="William B. Dolan and Chris Brockett. 2005. Automatically constructing a corpus of sentential "
                 "paraphrases. In Proceedings of the Third International Workshop on Paraphrasing (IWP2005).",
        homepage="https://www.microsoft.com/en-us/download/details.aspx?id=52398",
        parsing="UTF-8 with a byte-order mark, tab-separated with header 'Quality #1 ID #2 ID #1 String "
                "#2 String', read without CSV quoting (a '\"' is part of a sentence); the label is Quality as "
                "published (1: paraphrase, 2,753 of 4,076 train and 1,147 of 1,725 test pairs); the one "
                "original \\x12 byte in train is kept.",
    ),
]
