"""datafactory.images: every bad image becomes an ImageError whose reason names the cause.

Real photos from skimage.data, written as real files under tmp_path; bombs are crafted PNG
headers (a few hundred bytes) so no test ever allocates the pixels they declare.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile
from skimage import data as skdata

from datafactory.images import (
    ImageError,
    ImageSource,
    encode_png,
    image_bytes,
    image_key,
    image_source_of,
    load_image,
    open_image,
    read_image_bytes,
    stored_image,
)


def _jpeg(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height but holds one byte of pixel data: a bomb's header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """An image root holding real photos, in a subfolder too; a sibling folder outside it."""
    base = tmp_path_factory.mktemp("images")
    root = base / "root"
    (root / "sub").mkdir(parents=True)
    (root / "astronaut.jpg").write_bytes(_jpeg(skdata.astronaut()))
    (root / "sub" / "coffee.png").write_bytes(encode_png(skdata.coffee()))
    (root / "chelsea.jpg").write_bytes(_jpeg(skdata.chelsea()))
    (base / "outside").mkdir()
    (base / "outside" / "rocket.jpg").write_bytes(_jpeg(skdata.rocket()))
    return root


@pytest.fixture(autouse=True)
def _pil_globals_untouched():
    """No call may leave PIL's process-wide settings changed: other code relies on them."""
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    yield
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == before


def _reason(image, source) -> str:
    with pytest.raises(ImageError) as info:
        load_image(image, source)
    return str(info.value)


# --- where the bytes come from ----------------------------------------------------------


def test_bytes_and_path_load_the_same_image_with_the_same_key(root):
    source = ImageSource(root=root)
    from_path = load_image({"bytes": None, "path": "astronaut.jpg"}, source)
    from_bytes = load_image({"bytes": (root / "astronaut.jpg").read_bytes(), "path": None}, source)
    assert from_path[0] == from_bytes[0]
    assert from_path[2] == from_bytes[2] == image_key(from_path[0])
    assert len(from_path[2]) == 64
    for _, img, _ in (from_path, from_bytes):
        assert img.mode == "RGB" and img.size == (512, 512)


def test_bytes_win_over_path(root):
    coffee = encode_png(skdata.coffee())
    image = {"bytes": coffee, "path": "astronaut.jpg"}
    assert read_image_bytes(image, ImageSource(root=root)) == coffee
    # ...so a path that could not be read does not matter either, nor a missing root.
    assert read_image_bytes({"bytes": coffee, "path": "../nowhere.jpg"}, ImageSource()) == coffee


def test_png_in_a_subfolder_decodes_to_rgb(root):
    _, img, _ = load_image({"bytes": None, "path": "sub/coffee.png"}, ImageSource(root=root))
    assert img.mode == "RGB" and img.size == (600, 400)


def test_greyscale_and_rgba_are_converted_to_rgb():
    source = ImageSource()
    grey = open_image(encode_png(skdata.camera()), source)
    rgba = open_image(encode_png(Image.new("RGBA", (8, 8), (255, 0, 0, 0))), source)
    assert grey.mode == rgba.mode == "RGB"


@pytest.mark.parametrize("path", ["astronaut.jpg", "./sub/../astronaut.jpg", "sub/coffee.png"])
def test_relative_path_under_root_is_read(root, path):
    assert read_image_bytes({"bytes": None, "path": path}, ImageSource(root=root))


def test_absolute_path_inside_root_is_read(root):
    path = str(root / "chelsea.jpg")
    assert read_image_bytes({"bytes": None, "path": path}, ImageSource(root=root))
    # Without a root, absolute paths are all there is to go on.
    assert read_image_bytes({"bytes": None, "path": path}, ImageSource())


# --- paths that leave the image root ------------------------------------------------------


def test_dotdot_escape_is_refused(root):
    reason = _reason({"bytes": None, "path": "../outside/rocket.jpg"}, ImageSource(root=root))
    assert "'../outside/rocket.jpg' escapes the image root" in reason
    assert str(root.resolve()) in reason


def test_symlink_pointing_outside_root_is_refused(root, tmp_path):
    link_root = tmp_path / "root"
    link_root.mkdir()
    (link_root / "escape.jpg").symlink_to(root / "astronaut.jpg")  # a real file, another folder
    (link_root / "ok.jpg").write_bytes((root / "chelsea.jpg").read_bytes())
    (link_root / "alias.jpg").symlink_to(link_root / "ok.jpg")
    source = ImageSource(root=link_root)
    assert "escapes the image root" in _reason({"bytes": None, "path": "escape.jpg"}, source)
    # A link that stays inside the root is fine.
    assert read_image_bytes({"bytes": None, "path": "alias.jpg"}, source) == (link_root / "ok.jpg").read_bytes()


def test_absolute_path_outside_root_is_refused(root):
    path = str(root.parent / "outside" / "rocket.jpg")
    reason = _reason({"bytes": None, "path": path}, ImageSource(root=root))
    assert reason.startswith(f"absolute image path {path!r} escapes the image root")


def test_relative_path_without_root_is_refused():
    reason = _reason({"bytes": None, "path": "astronaut.jpg"}, ImageSource())
    assert "is relative but no image root is set" in reason and "set the image root" in reason


# --- files that are not usable images -----------------------------------------------------


def test_bad_files_are_refused_with_their_cause(root, tmp_path):
    whole = (root / "chelsea.jpg").read_bytes()
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("these are not pixels\n")
    (tmp_path / "half.jpg").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "folder.jpg").mkdir()
    source = ImageSource(root=tmp_path)
    expected = {
        "missing.jpg": "does not exist",
        "folder.jpg": "is a directory",
        "empty.jpg": "is empty (0 bytes)",
        "notes.jpg": "not an image (cannot identify format",
        "half.jpg": "truncated",
    }
    for path, words in expected.items():
        reason = _reason({"bytes": None, "path": path}, source)
        assert words in reason, (path, reason)
        if path in ("missing.jpg", "folder.jpg", "empty.jpg"):
            assert str(tmp_path.resolve() / path) in reason  # says which file
    assert "these are not pi" in _reason({"bytes": None, "path": "notes.jpg"}, source)


def test_missing_root_is_named(tmp_path):
    reason = _reason({"bytes": None, "path": "a.jpg"}, ImageSource(root=tmp_path / "nope"))
    assert "does not exist" in reason and "image root" in reason


@pytest.mark.parametrize("image", [None, {"bytes": None, "path": None}, {"bytes": None, "path": ""}])
def test_record_without_image(image):
    assert _reason(image, ImageSource()) == "record has no image"


@pytest.mark.parametrize("image, words", [
    ("a.jpg", "image must be {bytes, path}, got str"),
    ({"bytes": "text", "path": None}, "image.bytes must be binary, got str"),
    ({"bytes": None, "path": 7}, "image.path must be text, got int"),
    ({"bytes": None, "path": "a\0.jpg"}, "is not a valid path"),
])
def test_malformed_field(image, words, tmp_path):
    assert words in _reason(image, ImageSource(root=tmp_path))


def test_truncated_inline_bytes_are_refused(root):
    whole = (root / "astronaut.jpg").read_bytes()
    with pytest.raises(ImageError, match="truncated or corrupt"):
        open_image(whole[: len(whole) // 2], ImageSource())
    with pytest.raises(ImageError, match="empty"):
        open_image(b"", ImageSource())


def test_format_outside_the_accepted_list_is_refused():
    buffer = io.BytesIO()
    Image.fromarray(skdata.astronaut()).save(buffer, format="TGA")
    with pytest.raises(ImageError, match="cannot identify format among JPEG"):
        open_image(buffer.getvalue(), ImageSource())
    assert open_image(buffer.getvalue(), ImageSource(formats=("TGA",))).size == (512, 512)
    with pytest.raises(ValueError, match="cannot be read by this Pillow; readable: .*PNG"):
        ImageSource(formats=("PNG", "HEIC"))


# --- limits -------------------------------------------------------------------------------


def test_bomb_is_refused_by_its_header_before_decoding():
    # 12000x12000 = 144 Mpx: over max_pixels, under PIL's own refusal (2 x 89.5 Mpx), so the
    # reason is ours. Its pixel data is one byte: decoding would fail as "truncated" instead.
    bomb = _png_header_only(12_000, 12_000)
    assert len(bomb) < 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # PIL's own, over 1x
        with pytest.raises(ImageError) as info:
            open_image(bomb, ImageSource())
    assert str(info.value) == ("image of 12000x12000 = 144.0 Mpx exceeds max_pixels 89.5 Mpx "
                               "(decompression bomb guard)")


def test_max_pixels_comes_from_the_source_not_pil_global(monkeypatch, root):
    astronaut = (root / "astronaut.jpg").read_bytes()  # 512x512 = 0.26 Mpx
    with pytest.raises(ImageError, match=r"512x512 = 0.3 Mpx exceeds max_pixels 0.1 Mpx"):
        open_image(astronaut, ImageSource(max_pixels=100_000))
    # Other code switching PIL's guard off does not switch ours off.
    with monkeypatch.context() as patch:
        patch.setattr(Image, "MAX_IMAGE_PIXELS", None)
        with pytest.raises(ImageError, match="20000x20000 = 400.0 Mpx exceeds max_pixels 89.5 Mpx"):
            open_image(_png_header_only(20_000, 20_000), ImageSource())


def test_pil_refusal_of_a_huge_bomb_is_an_image_error():
    # 20000x20000 = 400 Mpx: Image.open itself refuses (over twice PIL's global limit).
    with pytest.raises(ImageError, match="decompression bomb guard"):
        open_image(_png_header_only(20_000, 20_000), ImageSource())
    # ...and PIL's warning, where a filter makes warnings errors, is one too.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageError, match="decompression bomb guard"):
            open_image(_png_header_only(12_000, 12_000), ImageSource(max_pixels=10**9))


def test_max_bytes_applies_to_files_and_inline_bytes(root):
    size = (root / "astronaut.jpg").stat().st_size
    source = ImageSource(root=root, max_bytes=size - 1)
    reason = _reason({"bytes": None, "path": "astronaut.jpg"}, source)
    assert f"of {size:,} bytes exceeds max_bytes {size - 1:,} bytes" in reason
    assert "astronaut.jpg" in reason
    inline = {"bytes": (root / "astronaut.jpg").read_bytes(), "path": None}
    assert "inline image" in _reason(inline, source) and "exceeds max_bytes" in _reason(inline, source)
    assert load_image(inline, ImageSource(max_bytes=size))[1].size == (512, 512)


# --- what gets written ----------------------------------------------------------------------


def test_stored_image_for_each_mode():
    data = encode_png(skdata.coffee())
    assert stored_image(data, "sub/coffee.png", "bytes") == {"bytes": data, "path": None}
    assert stored_image(data, "sub/coffee.png", "path") == {"bytes": None, "path": "sub/coffee.png"}
    assert stored_image(data, "sub/coffee.png", "both") == {"bytes": data, "path": "sub/coffee.png"}
    assert stored_image(data, None, "both") == {"bytes": data, "path": None}
    with pytest.raises(ImageError, match="came as bytes only"):
        stored_image(data, None, "path")
    with pytest.raises(ValueError, match="expected one of bytes, path, both"):
        stored_image(data, "x.png", "inline")  # type: ignore[arg-type]


def test_stored_image_fits_the_record_schema():
    import pyarrow as pa

    from datafactory.schema import IMAGE_TYPE

    data = encode_png(skdata.coffee())
    values = [stored_image(data, "a.png", mode) for mode in ("bytes", "path", "both")]
    assert pa.array(values, type=IMAGE_TYPE).to_pylist() == values


def test_image_source_of_a_build_is_any_stage_with_an_image_root(root, tmp_path):
    """Path-only images of a build are read from under the image_root its manifest records,
    whichever stage (a plug-in's included) declared it."""
    import json

    from datafactory.output import OutputDir

    build = tmp_path / "build"
    build.mkdir()
    manifest = {"config": {"stages": [{"stage": "entity_swap", "model": "en_core_web_sm"},
                                      {"stage": "my_image_stage", "image_root": str(root)}]}}
    (build / "manifest.json").write_text(json.dumps(manifest))
    for where in (build, str(build), OutputDir(build)):
        assert image_source_of(where).root == root
    assert image_bytes({"bytes": None, "path": "sub/coffee.png"}, image_source_of(build)) == \
        (root / "sub" / "coffee.png").read_bytes()

    (build / "manifest.json").write_text(json.dumps({"config": {"stages": [{"stage": "entity_swap"}]}}))
    assert image_source_of(build).root is None
    # Unusable images are None, not errors: readers skip such records.
    assert image_bytes({"bytes": None, "path": "sub/coffee.png"}, image_source_of(build)) is None
    assert image_bytes(None, ImageSource()) is None and image_bytes({"bytes": None, "path": None}, ImageSource()) is None
