"""A contact sheet of image–caption pairs: what a person checks at a glance after a build.

Each row shows a falsified pair's caption, the photo it now carries and, beside it, the photo
its story really had (when it had one), with the similarity that chose it::

    from detectors.evaluation.contact_sheet import write_pair_sheet
    write_pair_sheet("out/repurpose_images", "out/repurpose_images/eval/pairs.png", rows=8)
"""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from datafactory.images import image_bytes, image_source_of
from datafactory.output import OutputDir

THUMB = 160
CAPTION_WIDTH = 420


def _thumbnail(data: bytes | None) -> Any:
    from PIL import Image

    canvas = Image.new("RGB", (THUMB, THUMB), (235, 235, 235))
    if data:
        try:
            picture = Image.open(io.BytesIO(data)).convert("RGB")
            picture.thumbnail((THUMB, THUMB))
            canvas.paste(picture, ((THUMB - picture.width) // 2, (THUMB - picture.height) // 2))
        except Exception:  # a broken image shows as a grey square, the sheet still renders
            pass
    return canvas


def pair_rows(out_dir: str | Path, rows: int) -> list[dict[str, Any]]:
    """The first ``rows`` falsified pairs made by repurpose_image, with their parents' images."""
    out = OutputDir(Path(out_dir))
    source = image_source_of(out)
    records: dict[str, dict[str, Any]] = {}
    pairs: list[dict[str, Any]] = []
    for path in out.shard_files():
        for record in pq.read_table(path, columns=["id", "parent_id", "caption", "title", "image", "falsified",
                                                  "manipulations", "provenance", "scores"]).to_pylist():
            if not record["falsified"]:
                records[record["id"]] = record
            elif "repurpose_image" in record["manipulations"] and len(pairs) < rows:
                pairs.append(record)
    result = []
    for pair in pairs:
        stats = json.loads(pair["provenance"][-1]["stats"] or "{}")
        parent = records.get(pair["parent_id"], {})
        result.append({"id": pair["id"], "caption": pair["caption"] or pair["title"] or "",
                       "new": image_bytes(pair["image"], source), "own": image_bytes(parent.get("image"), source),
                       "origin": stats.get("image_origin"), "similarity": (pair["scores"] or {}).get("retrieval_similarity"),
                       "strategy": stats.get("strategy")})
    return result


def write_pair_sheet(out_dir: str | Path, target: str | Path, rows: int = 8) -> Path:
    """Render ``rows`` pairs as a PNG: caption | photo given | photo the story had."""
    from PIL import Image, ImageDraw

    pairs = pair_rows(out_dir, rows)
    if not pairs:
        raise ValueError(f"{out_dir} has no pairs made by repurpose_image (were images stored as bytes?)")
    height = 24 + len(pairs) * (THUMB + 10)
    sheet = Image.new("RGB", (CAPTION_WIDTH + 2 * THUMB + 30, height), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((10, 6), "caption (falsified pair)", fill="black")
    draw.text((CAPTION_WIDTH + 10, 6), "photo given", fill="black")
    draw.text((CAPTION_WIDTH + THUMB + 20, 6), "its own photo", fill="black")
    for i, pair in enumerate(pairs):
        top = 24 + i * (THUMB + 10)
        similarity = "" if pair["similarity"] is None else f"  sim {pair['similarity']:.3f}"
        lines = textwrap.wrap(pair["caption"], 62)[:7] + [f"[{pair['id']}] from {pair['origin']}{similarity}"]
        draw.multiline_text((10, top + 4), "\n".join(lines), fill="black", spacing=3)
        sheet.paste(_thumbnail(pair["new"]), (CAPTION_WIDTH + 10, top))
        sheet.paste(_thumbnail(pair["own"]), (CAPTION_WIDTH + THUMB + 20, top))
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(target)
    return target
