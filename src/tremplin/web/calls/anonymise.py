"""Blind review: a proposal's PDF rebuilt from its pages' content only, without what names its authors.

Word processors and PDF tools write the author's and the organisation's names into many places outside the
text: document information (/Author, /Creator...), XMP metadata (of the document, pages, images, forms, fonts),
application private data (/PieceInfo), comments (author, contents, unique name), form fields, bookmarks,
attached files, scripts, named destinations, the metadata segments of JPEG pictures (EXIF, XMP, comments).
Reviewers of a blind call receive a new PDF holding only the pages: their size, their content streams and the
resources those draw (fonts, pictures, vector forms), each stripped of metadata and private data. Nothing of the
document catalogue is carried over (no outlines, forms, attachments, names, scripts, structure tree, XMP), and
no annotation at all (comments, links, form widgets: form-field values are dropped, not flattened). The text
and pictures of the pages themselves are the applicant's responsibility (the upload form says so).
"""

from __future__ import annotations

import io

from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, StreamObject

# What a page keeps: its boxes, orientation, content and the resources the content draws.
PAGE_KEYS = ("/Type", "/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox", "/Rotate", "/UserUnit",
             "/Contents", "/Resources", "/Group")
# Removed from every dictionary reachable from a page's content: metadata, private data, actions and scripts,
# attached or referenced files, links back to the document's structure, pages and annotations.
DROPPED_KEYS = frozenset({
    "/Metadata", "/PieceInfo", "/LastModified", "/AA", "/A", "/JS", "/OpenAction", "/URI", "/Launch",
    "/AF", "/EF", "/EmbeddedFiles", "/FS", "/Ref", "/OPI", "/StructParent", "/StructParents", "/Parent", "/P",
    "/Annots", "/Thumb", "/B", "/Name"})
# JPEG segments that carry no picture data: APP1-APP13 and APP15 (EXIF, XMP, Photoshop IRB with the author,
# ICC profile...) and comments. APP0 (JFIF) and APP14 (Adobe, the colour transform) are needed to decode.
_JPEG_DROPPED = {0xE0 + n for n in range(1, 14)} | {0xEF, 0xFE}


class UnreadablePdf(ValueError):
    """The PDF cannot be parsed (damaged, or encrypted with a password): no anonymised copy can be made."""


def jpeg_without_metadata(data: bytes) -> bytes:
    """A JPEG file without its metadata and comment segments (the picture's bytes are untouched)."""
    if data[:2] != b"\xff\xd8":
        return data
    out = bytearray(data[:2])
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return data  # not a segment boundary: leave the file as it was rather than break it
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: the compressed picture follows, up to the end
            out += data[i:]
            return bytes(out)
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if length < 2 or i + 2 + length > len(data):
            return data
        if marker not in _JPEG_DROPPED:
            out += data[i:i + 2 + length]
        i += 2 + length
    return data


def _filters(stream: StreamObject) -> list[str]:
    value = stream.get("/Filter")
    if value is None:
        return []
    value = value.get_object()
    return [str(v) for v in value] if isinstance(value, ArrayObject) else [str(value)]


def _scrub(roots) -> None:
    """Remove DROPPED_KEYS from every dictionary and stream reachable from `roots` (in place, no recursion)."""
    seen: set[int] = set()
    todo = list(roots)
    while todo:
        obj = todo.pop()
        if isinstance(obj, IndirectObject):
            obj = obj.get_object()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, DictionaryObject):  # streams included
            for key in [k for k in obj if k in DROPPED_KEYS]:
                del obj[key]
            if isinstance(obj, StreamObject) and _filters(obj)[-1:] == ["/DCTDecode"] and len(_filters(obj)) == 1:
                obj._data = jpeg_without_metadata(obj._data)
            todo.extend(obj.values())
        elif isinstance(obj, ArrayObject):
            todo.extend(obj)


def pdf_without_identity(data: bytes) -> bytes:
    """A new PDF holding only the pages of `data` (size, content, the resources drawn), without metadata."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadablePdf("encrypted")
        writer = PdfWriter()
        for source in reader.pages:  # inherited boxes and resources are already copied onto each page
            page = PageObject(pdf=reader)
            for key in PAGE_KEYS:
                if key in source:
                    page[NameObject(key)] = source.raw_get(key)
            page[NameObject("/Type")] = NameObject("/Page")
            _scrub([page])
            writer.add_page(page)
        writer.metadata = None  # no /Info dictionary at all (not even pypdf's /Producer)
        out = io.BytesIO()
        writer.write(out)
    except UnreadablePdf:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise UnreadablePdf(str(exc)) from exc
    return out.getvalue()
