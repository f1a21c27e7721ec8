"""Read a record's ``image`` field safely: bytes in, a decoded RGB image and a content key out.

The field has the ``datasets.Image`` layout, ``{"bytes": b"..." | None, "path": str | None}``
(:data:`datafactory.schema.IMAGE_TYPE`). Images come from untrusted corpora, so every way one
can be bad (missing, outside the image folder, not an image, truncated, a decompression bomb,
too large) raises :class:`ImageError` with a reason that says what is wrong; a stage turns it
into a row of rejects.parquet instead of crashing the build.

Example::

    >>> from pathlib import Path
    >>> from datafactory.images import ImageSource, load_image, stored_image
    >>> source = ImageSource(root=Path("data/images"))                       # doctest: +SKIP
    >>> data, img, key = load_image({"bytes": None, "path": "a.jpg"}, source)  # doctest: +SKIP
    >>> img.mode, len(key)                                                   # doctest: +SKIP
    ('RGB', 64)
    >>> stored_image(data, "a.jpg", "path")                                  # doctest: +SKIP
    {'bytes': None, 'path': 'a.jpg'}
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

from PIL import Image, UnidentifiedImageError

StoreMode = Literal["bytes", "path", "both"]
STORE_MODES: tuple[str, ...] = ("bytes", "path", "both")


class ImageError(ValueError):
    """An image that cannot be used; ``str(exc)`` is the reason written to rejects.parquet."""


@dataclass(frozen=True)
class ImageSource:
    """Where image paths resolve and what an image may cost."""

    root: Path | None = None
    """Folder that relative image paths are relative to. Paths may not leave it (``../``,
    symlinks, absolute paths elsewhere). None: only absolute paths and inline bytes are read."""

    max_pixels: int = 89_478_485
    """Largest width x height accepted, checked from the header before any pixel is decoded
    (PIL's default limit; a decoded RGB image costs 3 bytes per pixel)."""

    max_bytes: int = 50 * 1024 * 1024
    """Largest encoded image accepted, inline or on disk."""

    formats: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
    """PIL readers tried. A short list, because some readers run external programs on
    untrusted data (EPS calls Ghostscript). JPEG also reads MPO (many phone-camera JPEGs)."""

    def __post_init__(self) -> None:
        Image.init()  # registers every reader PIL has (once per process)
        unknown = [name for name in self.formats if name not in Image.OPEN]
        if unknown:
            raise ValueError(f"image formats {', '.join(unknown)} cannot be read by this Pillow; "
                             f"readable: {', '.join(sorted(Image.OPEN))}")


def read_image_bytes(image: Mapping[str, Any] | None, source: ImageSource) -> bytes:
    """The encoded image of a record's ``image`` field: its bytes, else the file at its path.

    Inline bytes win when both are present: they are what the corpus shipped, and reading
    them touches no file system.
    """
    if image is not None and not isinstance(image, Mapping):
        raise ImageError(f"image must be {{bytes, path}}, got {type(image).__name__}")
    if image is None or (image.get("bytes") is None and not image.get("path")):
        raise ImageError("record has no image")
    data = image.get("bytes")
    if data is not None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ImageError(f"image.bytes must be binary, got {type(data).__name__}")
        data = bytes(data)
        _check_byte_size(len(data), "inline image", source)
        return data
    path = image["path"]
    if not isinstance(path, (str, os.PathLike)):
        raise ImageError(f"image.path must be text, got {type(path).__name__}")
    return _read_file(_resolve(str(path), source), source)


def open_image(data: bytes, source: ImageSource) -> Image.Image:
    """Decode encoded image bytes into an RGB image, refusing bombs and corrupt data.

    The pixel count is checked against ``source.max_pixels`` from the header, before decoding.
    PIL's global ``Image.MAX_IMAGE_PIXELS`` is neither relied on nor changed (other code may set
    it, even to None). ``Image.open`` still applies it, so where it is stricter (above twice the
    global, PIL refuses; above once, it warns) PIL's refusal is reported as an ImageError too.
    ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left as it is (False by default: truncated data raises).
    """
    if not data:
        raise ImageError("image is empty (0 bytes)")
    _check_byte_size(len(data), "image", source)
    try:
        # formats=: only the accepted readers ever see the data.
        img = Image.open(io.BytesIO(data), formats=source.formats)
    except UnidentifiedImageError:
        raise ImageError(f"not an image (cannot identify format among {', '.join(source.formats)}; "
                         f"data starts with {bytes(data[:16])!r})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Image.open applies PIL's global limit itself (its warning arrives as an exception
        # only where a warnings filter says "error"); when that is the stricter limit, say so.
        raise ImageError(f"image exceeds PIL's global pixel limit (decompression bomb guard): {exc}") from None
    except Exception as exc:  # untrusted data: any failure of a header parser is a bad image
        raise ImageError(f"image header is corrupt ({type(exc).__name__}: {exc})") from None
    with img:
        _check_pixels(img.size, source)
        try:
            img.load()
            _check_pixels(img.size, source)  # some readers settle the size only once decoding
            return img.convert("RGB")
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(f"image exceeds PIL's global pixel limit (decompression bomb guard): {exc}") from None
        except Exception as exc:  # MemoryError included: a bad image must not end the build
            raise ImageError(f"image is truncated or corrupt ({type(exc).__name__}: {exc})") from None


def image_key(data: bytes) -> str:
    """SHA-256 hex of the encoded bytes: the identity used for duplicates and embedding caches.

    Same bytes, same key; the same picture re-encoded (JPEG vs PNG) gets a different key.
    """
    return hashlib.sha256(data).hexdigest()


def load_image(image: Mapping[str, Any] | None, source: ImageSource) -> tuple[bytes, Image.Image, str]:
    """``(encoded bytes, decoded RGB image, key)`` of a record's ``image`` field."""
    data = read_image_bytes(image, source)
    return data, open_image(data, source), image_key(data)


def stored_image(data: bytes, path: str | None, store: StoreMode) -> dict[str, Any]:
    """The ``image`` value (IMAGE_TYPE) to write in an output record.

    ``bytes``: self-contained, no file-system path leaks into the dataset; ``path``: small
    output, readable only next to the same image root (the path is kept as the input gave it);
    ``both``: the bytes, with the path for reference (``datasets`` reads the bytes).
    """
    if store == "bytes":
        return {"bytes": data, "path": None}
    if store == "both":
        return {"bytes": data, "path": path}
    if store == "path":
        if not path:
            raise ImageError("cannot store the image by path: the record's image came as bytes only "
                             "(store it as 'bytes' or 'both')")
        return {"bytes": None, "path": path}
    raise ValueError(f"unknown image store mode {store!r}; expected one of {', '.join(STORE_MODES)}")


def encode_png(array_or_image: Any) -> bytes:
    """PNG bytes of a PIL image or a uint8 array (HxW, HxWx3 or HxWx4), e.g. ``skimage.data.coffee()``."""
    img = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def image_source_of(build: Any) -> ImageSource:
    """Where a build's stages read image paths from: the ``image_root`` option of the first
    stage in its manifest that has one, so that records storing images by path can be read
    after the build. ``build`` is an output folder or an ``OutputDir``. Without such a stage
    the source reads only inline bytes and absolute paths."""
    import json

    from datafactory.output import MANIFEST

    root = Path(build) if isinstance(build, (str, os.PathLike)) else Path(build.root)
    manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    stages = (manifest.get("config") or {}).get("stages") or []
    for stage in stages:
        if isinstance(stage, Mapping) and stage.get("image_root"):
            return ImageSource(root=Path(stage["image_root"]))
    return ImageSource()


def image_bytes(image: Mapping[str, Any] | None, source: ImageSource) -> bytes | None:
    """A record's encoded image (its bytes, else the file at its path under ``source``), or
    None when it has none or it cannot be read: for readers that skip such records."""
    if not image:
        return None
    try:
        return read_image_bytes(image, source)
    except ImageError:
        return None


def _resolve(path: str, source: ImageSource) -> Path:
    """The real file a path names, after symlinks, refused if it lies outside ``source.root``."""
    given = Path(path)
    if source.root is None:
        if not given.is_absolute():
            raise ImageError(f"image path {path!r} is relative but no image root is set "
                             "(set the image root: the folder these paths are relative to)")
        root = None
    else:
        root = Path(source.root).resolve()
    try:
        # resolve() follows every symlink, so a link inside the root that points out is caught.
        real = (given if root is None else root / given).resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # NUL bytes, symlink loops
        raise ImageError(f"image path {path!r} is not a valid path ({exc})") from None
    if root is not None and not real.is_relative_to(root):
        kind = "absolute image path" if given.is_absolute() else "image path"
        raise ImageError(f"{kind} {path!r} escapes the image root {root} (it resolves to {real})")
    return real


def _read_file(path: Path, source: ImageSource) -> bytes:
    try:
        # stat before open: opening a FIFO or a device would block or never end.
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ImageError(f"image path {path} is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"image path {path} is not a regular file")
        _check_byte_size(info.st_size, f"image file {path}", source)
        with open(path, "rb") as f:
            data = f.read(source.max_bytes + 1)  # bounded: the file may grow after stat
    except FileNotFoundError:
        root = source.root
        hint = "" if root is None or Path(root).is_dir() else f" (the image root {root} does not exist)"
        raise ImageError(f"image file {path} does not exist{hint}") from None
    except PermissionError:
        raise ImageError(f"image file {path} cannot be read (permission denied)") from None
    except OSError as exc:
        raise ImageError(f"image file {path} cannot be read ({exc.strerror or exc})") from None
    _check_byte_size(len(data), f"image file {path}", source)
    if not data:
        raise ImageError(f"image file {path} is empty (0 bytes)")
    return data


def _check_pixels(size: tuple[int, int], source: ImageSource) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageError(f"image header declares an empty size {width}x{height}")
    if width * height > source.max_pixels:
        raise ImageError(f"image of {width}x{height} = {width * height / 1e6:.1f} Mpx exceeds max_pixels "
                         f"{source.max_pixels / 1e6:.1f} Mpx (decompression bomb guard)")


def _check_byte_size(size: int, what: str, source: ImageSource) -> None:
    if size > source.max_bytes:
        raise ImageError(f"{what} of {_size(size)} exceeds max_bytes {_size(source.max_bytes)}")


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n:,} bytes"
