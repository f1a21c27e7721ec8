"""finetune-generator and init-generator: a tiny GPT-2 built from the sample corpus really learns,
the saved folder loads as a generator, a resumed run ends with the same weights as an
uninterrupted one, clear errors, and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from safetensors.torch import load_file  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from conftest import SAMPLE, sample_rows, write_jsonl  # noqa: E402
from datafactory.cli import app  # noqa: E402
from datafactory.config import InputConfig  # noqa: E402
from datafactory.errors import ConfigError, ModelNotFoundError, OutputError, ResumeMismatchError, \
    UnfinishedBuildError  # noqa: E402
from datafactory.lm import CARD_FILE, DEFAULT_SEPARATOR, load_generator  # noqa: E402
from pipelines.generation import finetune as ft  # noqa: E402
from pipelines.generation.finetune import collate, finetune_generator  # noqa: E402
from pipelines.generation.tiny_generator import build_tiny_gpt2  # noqa: E402

DATA = InputConfig(path=SAMPLE)
# A short run with a high learning rate: enough for the tiny model to learn more than word frequencies.
LEARN = dict(steps=200, batch_size=16, learning_rate=1e-2, max_length=128, val_fraction=0.1, seed=3, progress=False)
# The smallest run that still has several batches, a checkpoint and dropout (for resume).
SMALL = dict(steps=8, batch_size=8, learning_rate=1e-3, max_length=64, val_fraction=0.1, seed=5,
             checkpoint_every=4, progress=False)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One thread: these models are tiny, and on a shared 2-core machine a second thread mostly
    waits for the other (several times slower under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A random GPT-2 (2 layers, hidden 64) with a 2000-token BPE trained on the sample corpus."""
    texts = [row[name] for row in sample_rows() for name in ("title", "text", "caption") if row.get(name)]
    return build_tiny_gpt2(texts, tmp_path_factory.mktemp("tiny") / "base", vocab_size=2000, n_layer=2, n_embd=64,
                           n_head=4, n_positions=128, seed=0)


@pytest.fixture(scope="module")
def trained(tiny_base, tmp_path_factory) -> tuple[Path, dict]:
    output = tmp_path_factory.mktemp("trained") / "news-gpt2"
    return output, finetune_generator(DATA, str(tiny_base), output, **LEARN)


def test_finetuning_lowers_validation_perplexity(trained):
    _, result = trained
    before, after = result["val_perplexity_before"], result["val_perplexity_after"]
    # Untrained, the model is close to uniform over its ~2000 tokens (perplexity ~2019). A
    # context-free model, the smoothed token frequencies of the training rows, reaches ~764 (0.38) on the
    # validation rows; 200 steps reach 0.17-0.18 (seeds 0-3), so the model learnt to use context.
    assert before > 1000
    assert after < 0.25 * before, (before, after)
    assert result["data"]["rows_train"] + result["data"]["rows_val"] == 300
    assert 10 <= result["data"]["rows_val"] <= 60
    assert result["steps"] == 200 and result["resumed_from"] is None


def test_saved_folder_is_a_generator(trained):
    output, result = trained
    names = {p.name for p in output.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", CARD_FILE,
            "README.md"} <= names
    assert "checkpoints" not in names
    card = json.loads((output / CARD_FILE).read_text(encoding="utf-8"))
    assert card["separator"] == DEFAULT_SEPARATOR
    assert card["format"] == "title <sep> body <eos>"
    assert card["base_model"] == result["base_model"]
    assert len(card["data"]["sha256"]) == 64 and card["data"]["path"] == str(SAMPLE)
    for key in ("steps", "epochs", "batch_size", "learning_rate", "max_length", "seed", "val_perplexity_before",
                "val_perplexity_after"):
        assert card[key] == result[key], key
    readme = (output / "README.md").read_text(encoding="utf-8")
    assert f"{card['val_perplexity_after']:.2f} after" in readme and DEFAULT_SEPARATOR in readme

    generator = load_generator(str(output), "cpu")
    assert generator.separator == DEFAULT_SEPARATOR
    assert len(generator.separator_ids) == 1
    assert generator.tokenizer.pad_token_id is not None
    prompt = generator.tokenizer(generator.prompt("Kenya's parliament approves budget"), return_tensors="pt")
    assert prompt["input_ids"][0, -1].item() == generator.separator_ids[0]
    with torch.no_grad():
        out = generator.model.generate(**prompt, max_new_tokens=5, do_sample=False,
                                       pad_token_id=generator.tokenizer.pad_token_id)
    assert out.shape[1] > prompt["input_ids"].shape[1]


def test_padding_is_masked_but_the_real_eos_is_a_target():
    eos = pad = 0  # a tokenizer whose pad token is its eos token, as GPT-2's
    input_ids, attention, labels = collate([[5, 6, 7, eos], [8, 9, eos]], pad, torch)
    assert input_ids.tolist() == [[5, 6, 7, eos], [8, 9, eos, pad]]
    assert attention.tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert labels.tolist() == [[5, 6, 7, eos], [8, 9, eos, -100]]


def test_sequences_are_title_separator_body_eos_and_cut_to_max_length(tiny_base):
    config = ft.FinetuneConfig(model=str(tiny_base), max_length=16)
    tuner = ft.Finetuner(config, DATA, Path("unused"))
    tokenizer, _ = tuner._load_base(torch)
    short, long = tuner._encode(tokenizer, [("Rates rise", "Banks react."), ("Title", "word " * 100)])
    assert short[-1] == tokenizer.eos_token_id
    assert tokenizer.convert_tokens_to_ids(DEFAULT_SEPARATOR) in short
    assert tokenizer.decode(short, skip_special_tokens=False) == f"Rates rise{DEFAULT_SEPARATOR}Banks react.<|endoftext|>"
    assert len(long) == 16 and long[-1] != tokenizer.eos_token_id
    # The validation split depends on the id only.
    assert ft._held_out("news-0001", 0.1) == ft._held_out("news-0001", 0.1)
    assert 20 <= sum(ft._held_out(f"news-{i:04d}", 0.1) for i in range(500)) <= 80


def test_resume_reaches_the_weights_of_an_uninterrupted_run(tiny_base, tmp_path, monkeypatch):
    straight = finetune_generator(DATA, str(tiny_base), tmp_path / "straight", **SMALL)

    # Crash right after the first checkpoint (step 4 of 8).
    save = ft.Finetuner._save_checkpoint

    def save_then_crash(self, *args, **kwargs):
        save(self, *args, **kwargs)
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(ft.Finetuner, "_save_checkpoint", save_then_crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        finetune_generator(DATA, str(tiny_base), tmp_path / "resumed", **SMALL)
    monkeypatch.setattr(ft.Finetuner, "_save_checkpoint", save)
    checkpoint = tmp_path / "resumed" / "checkpoints" / "step-4"
    assert (checkpoint / "model.safetensors").is_file() and (checkpoint / "trainer_state.pt").is_file()
    assert not (tmp_path / "resumed" / CARD_FILE).exists()

    with pytest.raises(UnfinishedBuildError, match="--resume"):
        finetune_generator(DATA, str(tiny_base), tmp_path / "resumed", **SMALL)
    with pytest.raises(ResumeMismatchError):
        finetune_generator(DATA, str(tiny_base), tmp_path / "resumed", resume=True, **{**SMALL, "learning_rate": 2e-3})
    resumed = finetune_generator(DATA, str(tiny_base), tmp_path / "resumed", resume=True, **SMALL)

    assert resumed["resumed_from"] == 4
    assert resumed["val_perplexity_before"] == straight["val_perplexity_before"]
    assert resumed["val_perplexity_after"] == pytest.approx(straight["val_perplexity_after"], rel=1e-5)
    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], rtol=1e-5, atol=1e-7), name
    # ...and training moved them: the comparison is not between two untouched models.
    base = load_file(tiny_base / "model.safetensors")
    assert not torch.allclose(a["transformer.h.0.attn.c_attn.weight"], base["transformer.h.0.attn.c_attn.weight"])


def test_errors(tiny_base, tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        finetune_generator(DATA, str(tmp_path / "no-such-model"), tmp_path / "out", steps=1)
    with pytest.raises(ModelNotFoundError, match="config.json"):
        finetune_generator(DATA, str(tmp_path), tmp_path / "out", steps=1)
    with pytest.raises(ConfigError, match="not both"):
        finetune_generator(DATA, str(tiny_base), tmp_path / "out", steps=1, epochs=1)

    few = write_jsonl(tmp_path / "few.jsonl", sample_rows()[:2])
    with pytest.raises(ConfigError, match="validation row"):
        finetune_generator(InputConfig(path=few), str(tiny_base), tmp_path / "out", steps=1, val_fraction=0.01)
    assert not (tmp_path / "out").exists()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty"):
        finetune_generator(DATA, str(tiny_base), foreign, steps=1)
    assert (foreign / "notes.txt").exists()

    done = tmp_path / "done"
    options = dict(steps=1, batch_size=4, max_length=32, progress=False)
    finetune_generator(DATA, str(tiny_base), done, **options)
    with pytest.raises(OutputError, match="finished model.*--overwrite"):
        finetune_generator(DATA, str(tiny_base), done, **options)
    again = finetune_generator(DATA, str(tiny_base), done, overwrite=True, **{**options, "steps": None, "epochs": 0.1})
    card = json.loads((done / CARD_FILE).read_text())
    assert card["steps"] == again["steps"] == math.ceil(0.1 * math.ceil(card["data"]["rows_train"] / 4))
    with pytest.raises(OutputError, match="base model's folder"):
        finetune_generator(DATA, str(done), done, overwrite=True, **options)


# -- the CLI --------------------------------------------------------------------------------------



def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def stderr_of(result) -> str:
    try:
        return result.stderr
    except ValueError:  # a runner that mixes the streams
        return result.output


def test_cli_init_then_finetune_with_column_mapping(tmp_path):
    renamed = [{"story": r["id"], "headline": r["title"], "body": r["text"]} for r in sample_rows()[:120]]
    corpus = write_jsonl(tmp_path / "renamed.jsonl", renamed)

    result = invoke("init-generator", "--data", corpus, "--output", tmp_path / "base", "--columns",
                    "title=headline,text=body", "--vocab-size", 500, "--layers", 1, "--hidden", 32, "--heads", 2,
                    "--max-positions", 64)
    assert result.exit_code == 0, result.output
    assert "initialised" in result.output and (tmp_path / "base" / "config.json").is_file()

    result = invoke("finetune-generator", "--data", corpus, "--model", tmp_path / "base", "--output",
                    tmp_path / "tuned", "--columns", "title=headline", "--columns", "text=body,id=story",
                    "--steps", 3, "--batch-size", 8, "--lr", 1e-3, "--max-length", 64, "--val-fraction", 0.2,
                    "--no-progress")
    assert result.exit_code == 0, result.output
    assert "validation perplexity" in result.output and " before, " in result.output and " after" in result.output
    card = json.loads((tmp_path / "tuned" / CARD_FILE).read_text())
    assert card["data"]["columns"] == {"title": "headline", "text": "body", "id": "story"}
    assert card["data"]["rows_train"] + card["data"]["rows_val"] == 120 and card["steps"] == 3

    result = invoke("finetune-generator", "--data", corpus, "--model", tmp_path / "base", "--output",
                    tmp_path / "tuned", "--columns", "title=headline,text=body", "--steps", 3)
    assert result.exit_code == 1
    assert "error[E200]" in stderr_of(result) and "--overwrite" in stderr_of(result)


def test_cli_errors_and_help(tmp_path):
    result = invoke("finetune-generator", "--data", SAMPLE, "--model", tmp_path / "missing", "--output",
                    tmp_path / "out")
    assert result.exit_code == 2
    assert "error[E103]" in stderr_of(result) and "does not exist" in stderr_of(result)
    result = invoke("init-generator", "--data", SAMPLE, "--output", tmp_path / "x", "--columns", "headline")
    assert result.exit_code == 2 and "FIELD=COLUMN" in stderr_of(result)
    for command in ("finetune-generator", "init-generator"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Example:" in result.output
        assert f"datafactory {command} --data" in " ".join(result.output.split())
