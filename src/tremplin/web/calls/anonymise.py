"""Blind review: a proposal's PDF without what names its authors outside the text.

Word processors write the author's name (and often the organisation) into a PDF's document information
(/Author, /Creator, /Title...), its XMP metadata and the author field of every comment. Reviewers of a blind
call receive a copy without them; the text itself is the applicant's responsibility (the form says so).
"""

from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from pypdf.generic import NameObject


class UnreadablePdf(ValueError):
    """The PDF cannot be parsed (damaged, or encrypted with a password): no anonymised copy can be made."""


def pdf_without_identity(data: bytes) -> bytes:
    """A copy of `data` without document information, XMP metadata (document and pages) or comment authors."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadablePdf("encrypted")
        writer = PdfWriter(clone_from=reader)
        writer.metadata = None  # no /Info dictionary at all
        writer.root_object.pop(NameObject("/Metadata"), None)  # XMP of the document
        for page in writer.pages:
            page.pop(NameObject("/Metadata"), None)
            page.pop(NameObject("/PieceInfo"), None)  # application private data (may carry user names)
            for ref in page.get("/Annots") or []:
                annotation = ref.get_object()
                annotation.pop(NameObject("/T"), None)  # the comment's author
        writer.compress_identical_objects()  # also drops orphans: the detached XMP streams
        out = io.BytesIO()
        writer.write(out)
    except UnreadablePdf:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise UnreadablePdf(str(exc)) from exc
    return out.getvalue()
