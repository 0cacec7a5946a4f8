"""Real datasets for the featurizer tests, built from the shared benchmark files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from enso.data.dataset import Dataset


def read_sst2(shared: Path, split_file: str) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for line in (shared / split_file).read_bytes().decode("utf-8").split("\n"):
        if line.strip():
            label, text = line.split(" ", 1)
            texts.append(text.strip())
            labels.append(label)
    return texts, labels


def sst2_dataset(shared: Path, n_train: int | None = 300, n_test: int | None = 100, name: str = "SST2") -> Dataset:
    """The first ``n_train`` SST-2 train sentences and ``n_test`` test sentences."""
    train_texts, train_labels = read_sst2(shared, "stsa.binary.train")
    test_texts, test_labels = read_sst2(shared, "stsa.binary.test")
    frame = pd.DataFrame({
        "text": train_texts[:n_train] + test_texts[:n_test],
        "label": train_labels[:n_train] + test_labels[:n_test],
        "split": ["train"] * len(train_texts[:n_train]) + ["test"] * len(test_texts[:n_test]),
    })
    return Dataset.from_frame(name, frame)


def dataset_from_rows(name: str, train: list[str], test: list[str]) -> Dataset:
    frame = pd.DataFrame({
        "text": train + test,
        "label": ["a", "b"] * (len(train) // 2) + ["a"] * (len(train) % 2) + ["a"] * len(test),
        "split": ["train"] * len(train) + ["test"] * len(test),
    })
    return Dataset.from_frame(name, frame)


def write_tiny_bert(folder: Path) -> Path:
    """A real transformers folder at ``folder``: a 2-block BERT of width 32 (weights seeded with 0) with
    MiniLM's tokenizer files; fast to load, run and fine-tune, so tests of model code need no real weights."""
    import shutil

    import torch
    from transformers import BertConfig, BertModel

    from enso.features.transformer import minilm_folder

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (minilm_folder() / name).is_file():
            shutil.copy(minilm_folder() / name, folder / name)
    return folder
