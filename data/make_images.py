"""Regenerate the sample corpus's small images (drawn, not photographed; CC0 like the text).

Each image is a simple scene (sky, ground, buildings or figures) whose colours and layout
derive from the item id, so the files are distinct and reproducible:

    python data/make_images.py
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).parent
ITEMS = ["news-0002", "news-0003", "news-0007", "news-0012", "news-0151", "news-0160", "news-0175", "news-0210"]


def draw(item_id: str, size: tuple[int, int] = (160, 112)) -> Image.Image:
    rng = random.Random(int(hashlib.sha256(item_id.encode()).hexdigest(), 16))
    width, height = size
    image = Image.new("RGB", size)
    pen = ImageDraw.Draw(image)
    sky = [rng.randrange(60, 220) for _ in range(3)]
    for y in range(height):
        shade = [max(0, c - y // 2) for c in sky]
        pen.line([(0, y), (width, y)], fill=tuple(shade))
    horizon = rng.randrange(height // 2, height - 20)
    pen.rectangle([0, horizon, width, height], fill=tuple(rng.randrange(30, 140) for _ in range(3)))
    for _ in range(rng.randrange(3, 8)):
        x, w, h = rng.randrange(0, width - 20), rng.randrange(10, 40), rng.randrange(15, horizon)
        pen.rectangle([x, horizon - h, x + w, horizon], fill=tuple(rng.randrange(0, 255) for _ in range(3)))
    for _ in range(rng.randrange(2, 6)):
        x, y = rng.randrange(0, width), rng.randrange(horizon, height - 8)
        pen.ellipse([x, y - 14, x + 6, y - 8], fill=(230, 200, 170))
        pen.rectangle([x, y - 8, x + 6, y + 6], fill=tuple(rng.randrange(0, 255) for _ in range(3)))
    return image


if __name__ == "__main__":
    for item in ITEMS:
        draw(item).save(HERE / "images" / f"{item}.jpg", quality=85)
    print(f"wrote {len(ITEMS)} images to {HERE / 'images'}")
