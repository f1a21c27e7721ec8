"""Discriminators: a scikit-learn pipeline trained here on two topics of the sample corpus, and
tiny random transformers classifiers (GPT-2 and BERT) saved to folders and loaded by path,
as users load real ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import sample_rows
from datafactory.errors import ConfigError, ModelNotFoundError, UnknownClassError
from pipelines.generation.discriminators import (
    CausalClassifier,
    HFSequenceClassifier,
    SklearnClassifier,
    TextClassifier,
    check_classifier,
    is_causal_architecture,
    load_classifier,
)

# Texts of very different lengths, an empty one included: padding must not change a score.
TEXTS = [row["text"] for row in sample_rows()[:7]] + ["", "Short.", "Two words"]


def topic_split(a: str = "sports", b: str = "politics") -> tuple[list[str], list[str], list[str], list[str]]:
    """Bodies of two categories: the first 25 of each to train on, the rest held out."""
    rows = [r for r in sample_rows() if r["category"] in (a, b)]
    train = [r for cat in (a, b) for r in [x for x in rows if x["category"] == cat][:25]]
    held = [r for r in rows if r not in train]
    return [r["text"] for r in train], [r["category"] for r in train], [r["text"] for r in held], \
        [r["category"] for r in held]


def topic_pipeline(texts: list[str], labels: list) -> object:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(C=20, max_iter=1000)).fit(texts, labels)


# -- scikit-learn ------------------------------------------------------------------------------


def test_sklearn_classifier_scores_held_out_texts_of_the_target_class_high():
    texts, labels, held_texts, held_labels = topic_split()
    classifier = SklearnClassifier(topic_pipeline(texts, labels), "sports")
    assert isinstance(classifier, TextClassifier)
    assert classifier.classes == ["politics", "sports"] and classifier.target_index == 1

    proba = classifier.proba(held_texts)
    assert proba.shape == (len(held_texts), 2) and proba.dtype == np.float64
    assert np.allclose(proba.sum(axis=1), 1.0)
    scores = classifier.score(held_texts)
    assert np.array_equal(scores, proba[:, 1])
    sports = scores[[label == "sports" for label in held_labels]]
    politics = scores[[label == "politics" for label in held_labels]]
    assert len(sports) >= 10 and len(politics) >= 10
    assert np.mean(sports > 0.5) >= 0.9 and np.mean(politics < 0.5) >= 0.9
    assert sports.mean() - politics.mean() > 0.4
    assert classifier.proba([]).shape == (0, 2)
    assert classifier.info() == {"kind": "sklearn", "name": "<python>", "version": None,
                                 "classes": ["politics", "sports"], "target": "sports"}


def test_sklearn_classes_are_strings_and_targets_go_by_name_or_index():
    texts, labels, _, _ = topic_split()
    flags = SklearnClassifier(topic_pipeline(texts, [label == "sports" for label in labels]), "true")
    assert flags.classes == ["False", "True"] and flags.target_index == 1
    for target, index in [("False", 0), ("TRUE", 1), (True, 1), (0, 0), ("1", 1), (" 0 ", 0)]:
        assert SklearnClassifier(flags.estimator, target).target_index == index, target
    for target in ("maybe", 2, "2", -1):
        with pytest.raises(UnknownClassError, match=r"Known classes, by index: 0=False, 1=True") as caught:
            SklearnClassifier(flags.estimator, target)
        assert caught.value.code == "E104"


def test_an_object_without_predict_proba_is_refused():
    from sklearn.svm import LinearSVC

    texts, labels, _, _ = topic_split()
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    svm = make_pipeline(TfidfVectorizer(), LinearSVC()).fit(texts, labels)
    with pytest.raises(ModelNotFoundError, match="no predict_proba"):
        SklearnClassifier(svm, "sports")


def test_a_skops_file_loads_by_path_once_per_process(tmp_path):
    import skops.io

    texts, labels, held_texts, _ = topic_split()
    pipeline = topic_pipeline(texts, labels)
    skops.io.dump(pipeline, tmp_path / "topics.skops")
    classifier = load_classifier(str(tmp_path / "topics.skops"), "politics")
    assert isinstance(classifier, SklearnClassifier) and classifier.target == "politics"
    assert np.array_equal(classifier.proba(held_texts), pipeline.predict_proba(held_texts))
    assert classifier.info()["version"] and len(classifier.info()["version"]) == 16
    assert load_classifier(str(tmp_path / "topics.skops"), "politics") is classifier


# -- transformers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpt2_classifier(tiny_gpt2, tmp_path_factory) -> Path:
    """A random GPT2ForSequenceClassification whose tokenizer has no pad token and whose config
    has no pad_token_id, as many causal checkpoints come."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2ForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    tokenizer.pad_token = None
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=None,
                        id2label={0: "generated", 1: "real"}, label2id={"generated": 0, "real": 1})
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("gpt2-classifier")
    GPT2ForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert json.loads((folder / "tokenizer_config.json").read_text()).get("pad_token") is None
    return folder


@pytest.fixture(scope="module")
def bert_classifier(tmp_path_factory) -> Path:
    """A random BERT classifier with a WordPiece tokenizer trained on the sample corpus."""
    import torch
    from tokenizers import BertWordPieceTokenizer, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator([r["text"] for r in sample_rows()], vocab_size=600, min_frequency=2,
                                  show_progress=False)
    backend = wordpiece._tokenizer
    backend.post_processor = processors.BertProcessing(("[SEP]", backend.token_to_id("[SEP]")),
                                                       ("[CLS]", backend.token_to_id("[CLS]")))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", cls_token="[CLS]",
                                        sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]",
                                        model_max_length=64)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id,
                        id2label={0: "negative", 1: "neutral", 2: "positive"},
                        label2id={"negative": 0, "neutral": 1, "positive": 2})
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("bert-classifier")
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_gpt2_classifier_loads_as_causal_and_batches_like_single_texts(gpt2_classifier):
    classifier = load_classifier(str(gpt2_classifier), "real", device="cpu", batch_size=4)
    assert type(classifier) is CausalClassifier and isinstance(classifier, TextClassifier)
    assert classifier.classes == ["generated", "real"] and classifier.target_index == 1
    # The tokenizer had no pad token: the end token pads, and the model knows which id that is.
    assert classifier.tokenizer.pad_token_id == classifier.tokenizer.eos_token_id is not None
    assert classifier.model.config.pad_token_id == classifier.tokenizer.pad_token_id
    assert classifier.device == "cpu" and not classifier.model.training

    batched = classifier.proba(TEXTS)
    assert batched.shape == (len(TEXTS), 2) and batched.dtype == np.float64
    assert np.allclose(batched.sum(axis=1), 1.0, atol=1e-12)
    one_by_one = np.stack([classifier.proba([text])[0] for text in TEXTS])
    assert np.allclose(batched, one_by_one, atol=1e-5)
    assert np.array_equal(classifier.score(TEXTS), batched[:, 1])
    # A random head is not constant: the texts get different scores.
    assert np.ptp(batched[:, 1]) > 1e-4
    info = classifier.info()
    assert info["kind"] == "causal" and info["classes"] == ["generated", "real"] and info["target"] == "real"
    assert info["name"] == str(gpt2_classifier) and len(info["version"]) == 16


def test_targets_by_name_or_index_and_unknown_ones_list_the_classes(gpt2_classifier):
    for target, index in [("REAL", 1), ("generated", 0), (0, 0), ("1", 1)]:
        assert load_classifier(str(gpt2_classifier), target, device="cpu").target_index == index
    with pytest.raises(UnknownClassError, match=r"'fake'.*Known classes, by index: 0=generated, 1=real"):
        load_classifier(str(gpt2_classifier), "fake", device="cpu")
    with pytest.raises(UnknownClassError, match="0=generated, 1=real"):
        check_classifier(str(gpt2_classifier), target=5)


def test_kind_chooses_the_wrapper(gpt2_classifier, bert_classifier):
    assert type(load_classifier(str(gpt2_classifier), "real", kind="hf", device="cpu")) is HFSequenceClassifier
    with pytest.raises(ModelNotFoundError, match="not a scikit-learn model"):
        load_classifier(str(gpt2_classifier), "real", kind="sklearn")
    with pytest.raises(ModelNotFoundError, match="not a decoder-only classifier"):
        load_classifier(str(bert_classifier), "positive", kind="causal")
    with pytest.raises(ConfigError, match="unknown classifier kind 'torch'"):
        load_classifier(str(gpt2_classifier), "real", kind="torch")


def test_a_bert_classifier_loads_as_a_plain_sequence_classifier(bert_classifier):
    classifier = load_classifier(str(bert_classifier), "Positive", device="cpu", batch_size=3)
    assert type(classifier) is HFSequenceClassifier
    assert classifier.classes == ["negative", "neutral", "positive"] and classifier.target_index == 2
    assert classifier.max_length == 64
    batched = classifier.proba(TEXTS)
    assert batched.shape == (len(TEXTS), 3) and np.allclose(batched.sum(axis=1), 1.0, atol=1e-12)
    assert np.allclose(batched, np.stack([classifier.proba([t])[0] for t in TEXTS]), atol=1e-5)
    found = check_classifier(str(bert_classifier), "auto", "pipeline.yaml", "stages[0].discriminator")
    assert (found.kind, found.classes, found.architecture) == ("hf", ["negative", "neutral", "positive"],
                                                                "BertForSequenceClassification")


def test_is_causal_architecture():
    from transformers import BertConfig, GPT2Config

    assert is_causal_architecture(GPT2Config())
    assert not is_causal_architecture(BertConfig())
    assert is_causal_architecture({"architectures": ["LlamaForSequenceClassification"]})
    assert is_causal_architecture({"architectures": ["GPTNeoXForSequenceClassification"], "model_type": "gpt_neox"})
    assert is_causal_architecture({"model_type": "qwen2"})
    assert is_causal_architecture({"architectures": ["MyOwnModel"], "is_decoder": True})
    assert not is_causal_architecture({"architectures": ["RobertaForSequenceClassification"], "model_type": "roberta"})
    assert not is_causal_architecture({"architectures": ["DebertaV2ForSequenceClassification"]})


def test_what_is_not_a_classifier_is_refused_with_a_hint(tmp_path, tiny_gpt2):
    cases = {
        str(tmp_path / "missing"): "does not exist",
        "./nowhere/model.skops": "does not exist",
        str(tiny_gpt2): "GPT2LMHeadModel, not a sequence classifier",
        str(tmp_path): "neither a detector folder",
        "someone/not-cached-model": "local Hugging Face cache",
    }
    (tmp_path / "notes.txt").write_text("hello")
    cases[str(tmp_path / "notes.txt")] = "not a .skops model"
    for name, message in cases.items():
        with pytest.raises(ModelNotFoundError, match=message) as caught:
            load_classifier(name, "real", source="pipeline.yaml", field="stages[1].discriminator")
        assert caught.value.code == "E103" and "pipeline.yaml: stages[1].discriminator" in str(caught.value)
        with pytest.raises(ModelNotFoundError, match=message):
            check_classifier(name, "auto", "pipeline.yaml", "stages[1].discriminator")
