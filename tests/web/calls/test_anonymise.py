"""Blind review copies of PDFs: only the pages' content is kept, everything else that can name the authors goes."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

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


# --- A PDF naming its applicant everywhere but in the page text ------------------------------------------------
# Every place carries its own marker ("FUITE" + place): the copy must contain none of them, wherever they are.

LEAK = "FUITE"
VISIBLE = "Suivi a domicile des insuffisants cardiaques"


def _stream(data: bytes, **entries) -> StreamObject:
    stream = StreamObject()
    stream.set_data(data)
    for key, value in entries.items():
        stream[NameObject(f"/{key}")] = value
    return stream


def _xmp(marker: str) -> StreamObject:
    xml = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           f'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>{marker}</dc:creator>'
           f"</rdf:Description></rdf:RDF></x:xmpmeta>").encode()
    return _stream(xml, Type=NameObject("/Metadata"), Subtype=NameObject("/XML"))


def _piece_info(marker: str) -> DictionaryObject:
    return DictionaryObject({NameObject("/Word"): DictionaryObject({
        NameObject("/LastModified"): TextStringObject("D:20260101000000"),
        NameObject("/Private"): TextStringObject(marker)})})


def _jpeg_with_metadata() -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x013B] = f"{LEAK}JPEGEXIF"  # Artist
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "JPEG", exif=exif.tobytes(),
                                                   comment=f"{LEAK}JPEGCOMMENT".encode())
    return buffer.getvalue()


def _identifying_pdf() -> bytes:
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    add = writer._add_object
    font = add(DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                                 NameObject("/BaseFont"): NameObject("/Helvetica")}))
    raw_image = _stream(bytes([10, 200, 30] * 4), Type=NameObject("/XObject"), Subtype=NameObject("/Image"),
                        Width=NumberObject(2), Height=NumberObject(2), ColorSpace=NameObject("/DeviceRGB"),
                        BitsPerComponent=NumberObject(8), Metadata=add(_xmp(f"{LEAK}IMAGEXMP")),
                        PieceInfo=_piece_info(f"{LEAK}IMAGEPIECEINFO"))
    jpeg = _stream(b"", Type=NameObject("/XObject"), Subtype=NameObject("/Image"), Width=NumberObject(8),
                   Height=NumberObject(8), ColorSpace=NameObject("/DeviceRGB"), BitsPerComponent=NumberObject(8),
                   Filter=NameObject("/DCTDecode"))
    jpeg._data = _jpeg_with_metadata()  # already DCT-encoded: stored as is
    form = _stream(b"0 0 1 rg 0 0 5 5 re f", Type=NameObject("/XObject"), Subtype=NameObject("/Form"),
                   BBox=ArrayObject([NumberObject(0), NumberObject(0), NumberObject(5), NumberObject(5)]),
                   Metadata=add(_xmp(f"{LEAK}FORMXMP")), PieceInfo=_piece_info(f"{LEAK}FORMPIECEINFO"))
    page[NameObject("/Resources")] = DictionaryObject({
        NameObject("/Font"): DictionaryObject({NameObject("/F1"): font}),
        NameObject("/XObject"): DictionaryObject({NameObject("/Im1"): add(raw_image), NameObject("/Im2"): add(jpeg),
                                                  NameObject("/Fm1"): add(form)})})
    content = (f"BT /F1 14 Tf 72 760 Td ({VISIBLE}) Tj ET q 20 0 0 20 72 700 cm /Im1 Do Q "
               f"q 20 0 0 20 100 700 cm /Im2 Do Q q 1 0 0 1 130 700 cm /Fm1 Do Q").encode()
    page[NameObject("/Contents")] = add(_stream(content))
    page[NameObject("/Metadata")] = add(_xmp(f"{LEAK}PAGEXMP"))
    page[NameObject("/PieceInfo")] = _piece_info(f"{LEAK}PAGEPIECEINFO")
    page[NameObject("/AA")] = DictionaryObject({NameObject("/O"): DictionaryObject({
        NameObject("/S"): NameObject("/URI"), NameObject("/URI"): TextStringObject(f"https://{LEAK}PAGEACTION.example")})})
    comment = add(DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Text"),
        NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (300, 700, 320, 720)]),
        NameObject("/T"): TextStringObject(f"{LEAK}ANNOTAUTHOR"), NameObject("/Contents"): TextStringObject(
            f"{LEAK}ANNOTCONTENTS"), NameObject("/NM"): TextStringObject(f"{LEAK}ANNOTNM")}))
    appearance = add(_stream(f"BT /F1 10 Tf 2 2 Td ({LEAK}FIELDAPPEARANCE) Tj ET".encode(),
                             Type=NameObject("/XObject"), Subtype=NameObject("/Form"),
                             BBox=ArrayObject([NumberObject(n) for n in (0, 0, 200, 20)]),
                             Resources=DictionaryObject({NameObject("/Font"): DictionaryObject({
                                 NameObject("/F1"): font})})))
    field = add(DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Widget"),
        NameObject("/FT"): NameObject("/Tx"), NameObject("/T"): TextStringObject(f"{LEAK}FIELDNAME"),
        NameObject("/V"): TextStringObject(f"{LEAK}FIELDVALUE"), NameObject("/TU"): TextStringObject(
            f"{LEAK}FIELDTOOLTIP"), NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (72, 600, 272, 620)]),
        NameObject("/AP"): DictionaryObject({NameObject("/N"): appearance}), NameObject("/P"): page.indirect_reference}))
    page[NameObject("/Annots")] = ArrayObject([comment, field])
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): ArrayObject([field])})
    writer._root_object[NameObject("/Metadata")] = add(_xmp(f"{LEAK}DOCXMP"))
    writer._root_object[NameObject("/PieceInfo")] = _piece_info(f"{LEAK}DOCPIECEINFO")
    writer.add_outline_item(title=f"{LEAK}OUTLINE Kelvin Santé", page_number=0)
    writer.add_attachment(f"{LEAK}ATTACHMENTNAME-Kelvin-Sante.txt", f"contact: {LEAK}ATTACHMENTBODY@kelvin.example")
    script = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                               NameObject("/JS"): TextStringObject(f"app.alert('{LEAK}JAVASCRIPT');")})
    writer._root_object[NameObject("/OpenAction")] = add(script)
    names = writer._root_object["/Names"].get_object()  # made by add_attachment, above
    names[NameObject("/JavaScript")] = DictionaryObject({NameObject("/Names"): ArrayObject([
        TextStringObject(f"{LEAK}SCRIPTNAME"), add(script)])})
    writer.add_metadata({"/Author": f"{LEAK}INFOAUTHOR", "/Title": f"{LEAK}INFOTITLE", "/Company": f"{LEAK}INFOCOMPANY"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _every_text(data: bytes) -> list[str]:
    """Every name, string and (decoded) stream of every object of `data`, and its raw bytes: no list of keys."""
    reader = PdfReader(io.BytesIO(data))
    found = [data.decode("latin-1"), data.decode("utf-16-be", errors="ignore")]
    seen: set[int] = set()

    def walk(obj) -> None:
        if isinstance(obj, IndirectObject):
            if obj.idnum in seen:
                return
            seen.add(obj.idnum)
            obj = obj.get_object()
        if isinstance(obj, StreamObject):
            found.append(obj.get_data().decode("latin-1"))
            found.append(obj._data.decode("latin-1"))
        if isinstance(obj, dict):
            for key, value in obj.items():
                found.append(str(key))
                walk(value)
        elif isinstance(obj, list):
            for value in obj:
                walk(value)
        elif isinstance(obj, (TextStringObject, ByteStringObject)):
            found.append(str(obj))
            found.append(bytes(obj.original_bytes).decode("latin-1"))
        elif obj is not None:
            found.append(str(obj))

    walk(reader.trailer)
    for number in range(1, int(reader.trailer["/Size"])):  # every indirect object, reachable or not
        try:
            walk(IndirectObject(number, 0, reader))
        except Exception:  # a free entry of the cross-reference table
            continue
    return found


def test_the_source_pdf_carries_every_marker() -> None:
    """The test's own premise: the markers are where they should be (so their absence later means something)."""
    text = "\n".join(_every_text(_identifying_pdf()))
    for place in ("INFOAUTHOR", "DOCXMP", "DOCPIECEINFO", "PAGEXMP", "PAGEPIECEINFO", "PAGEACTION", "IMAGEXMP",
                  "IMAGEPIECEINFO", "FORMXMP", "ANNOTAUTHOR", "ANNOTCONTENTS", "ANNOTNM", "FIELDVALUE",
                  "FIELDAPPEARANCE", "OUTLINE", "ATTACHMENTNAME", "JAVASCRIPT", "JPEGEXIF", "JPEGCOMMENT"):
        assert LEAK + place in text, place
    assert f"{LEAK}ATTACHMENTBODY" in text  # the embedded file's content, found once its stream is decoded


def test_the_copy_keeps_the_pages_and_nothing_that_names_the_applicant() -> None:
    copy = pdf_without_identity(_identifying_pdf())
    leaks = sorted({m for piece in _every_text(copy) for m in re.findall(rf"{LEAK}[A-Z]+", piece, flags=re.I)})
    assert leaks == []
    reader = PdfReader(io.BytesIO(copy))
    assert len(reader.pages) == 1 and VISIBLE in reader.pages[0].extract_text()
    assert float(reader.pages[0].mediabox.width) == 595
    images = reader.pages[0].images  # the pictures are kept (without their metadata)
    assert sorted(image.name.rsplit(".", 1)[0] for image in images) == ["Im1", "Im2"]
    assert images["/Im2"].image.size == (8, 8)
    assert reader.metadata is None and reader.outline == [] and not reader.attachments
    assert "/AcroForm" not in reader.trailer["/Root"] and "/Annots" not in reader.pages[0]


def test_attributes_inherited_from_the_page_tree_are_kept() -> None:
    """Size, rotation and resources held by the /Pages node (not the page) still reach the copy's page."""
    writer = PdfWriter()
    page = writer.add_blank_page(100, 100)
    font = writer._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject(
        "/Subtype"): NameObject("/Type1"), NameObject("/BaseFont"): NameObject("/Helvetica")}))
    page[NameObject("/Contents")] = writer._add_object(_stream(b"BT /F1 12 Tf 20 300 Td (Texte du projet) Tj ET"))
    del page["/Resources"], page["/MediaBox"]
    tree = writer._root_object["/Pages"].get_object()
    tree[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    tree[NameObject("/MediaBox")] = ArrayObject([NumberObject(n) for n in (0, 0, 333, 444)])
    tree[NameObject("/Rotate")] = NumberObject(90)
    out = io.BytesIO()
    writer.write(out)
    copy = PdfReader(io.BytesIO(pdf_without_identity(out.getvalue()))).pages[0]
    assert (float(copy.mediabox.width), float(copy.mediabox.height), copy.rotation) == (333, 444, 90)
    assert "Texte du projet" in copy.extract_text()


def test_jpeg_metadata_segments_go_and_the_picture_stays() -> None:
    from PIL import Image

    from tremplin.web.calls.anonymise import jpeg_without_metadata

    original = _jpeg_with_metadata()
    cleaned = jpeg_without_metadata(original)
    assert LEAK.encode() in original and LEAK.encode() not in cleaned
    before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(cleaned))
    assert after.size == before.size and after.tobytes() == before.tobytes()
    assert jpeg_without_metadata(b"not a jpeg") == b"not a jpeg"
