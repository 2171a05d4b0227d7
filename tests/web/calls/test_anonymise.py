"""Blind review copies of PDFs: metadata naming the authors removed, pages kept, unreadable files refused."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from tremplin.web.calls.anonymise import UnreadablePdf, pdf_without_identity


def _pdf(pages: int = 3, *, password: str | None = None) -> bytes:
    writer = PdfWriter()
    for i in range(pages):
        writer.add_blank_page(200 + i, 300)
    writer.add_metadata({"/Author": "Alice Porteuse", "/Subject": "Projet d'Alice"})
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pages_are_kept_and_the_author_is_gone() -> None:
    copy = PdfReader(io.BytesIO(pdf_without_identity(_pdf(3))))
    assert [float(p.mediabox.width) for p in copy.pages] == [200, 201, 202]
    assert copy.metadata is None


def test_a_pdf_encrypted_without_a_user_password_is_anonymised() -> None:
    source = _pdf(2, password="")
    assert PdfReader(io.BytesIO(source)).is_encrypted
    copy = PdfReader(io.BytesIO(pdf_without_identity(source)))
    assert len(copy.pages) == 2 and copy.metadata is None


@pytest.mark.parametrize("data", [b"%PDF-1.7\n%%EOF\n", b"not a pdf at all", b""], ids=["truncated", "text", "empty"])
def test_unreadable_files_are_refused(data: bytes) -> None:
    with pytest.raises(UnreadablePdf):
        pdf_without_identity(data)


def test_a_password_protected_pdf_is_refused() -> None:
    with pytest.raises(UnreadablePdf, match="encrypted"):
        pdf_without_identity(_pdf(1, password="secret"))
