"""Posting a multipart body whose bytes read by the server are counted (upload limits are streaming checks)."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, FakePayload, encode_multipart


class CountingPayload(FakePayload):
    """A request body that counts the bytes the server reads from it."""

    def __init__(self, content: bytes):
        super().__init__(content)
        self.bytes_read = 0

    def read(self, size=-1, /):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size=-1, /):
        line = super().readline(size)
        self.bytes_read += len(line)
        return line


def multipart_post(client, url: str, fields: dict, file_field: str, file_name: str, content: bytes,
                   content_type: str = "application/octet-stream"):
    """POST `fields` then one file; returns (response, payload with .bytes_read, body length)."""
    upload = SimpleUploadedFile(file_name, content, content_type=content_type)
    body = encode_multipart(BOUNDARY, {**fields, file_field: upload})
    payload = CountingPayload(body)
    response = client.post(url, data=body, content_type=f"multipart/form-data; boundary={BOUNDARY}",
                           **{"wsgi.input": payload})
    return response, payload, len(body)
