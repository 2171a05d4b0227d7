"""Upload size limits, enforced while the request body streams in (never after it has been read whole).

`LimitedUploadHandler` runs first among `FILE_UPLOAD_HANDLERS`. When a file part starts, it refuses the
upload if the request's declared length (CONTENT_LENGTH) passes the limit; while the file's bytes arrive, it
counts them and refuses as soon as they pass it (a body whose length was not, or wrongly, declared). A refusal
stops reading the body (`StopUpload(connection_reset=True)`): the partial temporary file is deleted, the form
fields sent before the file (CSRF token included) are kept, the file is absent from `request.FILES` and
`upload_refusal(request)` gives the message the view shows.

The limit is `settings.UPLOAD_MAX_BYTES` unless the view declares its own with `@upload_limit(...)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

# Room for the form's other fields and the multipart boundaries around a file of the largest allowed size.
MULTIPART_OVERHEAD = 1024 * 1024


def upload_limit(max_bytes: int | str):
    """Declare a view's upload limit: a number of bytes, or the name of the setting holding it.

    Put it outermost (above `view_access`): the handler reads it from the resolved view before the view runs.
    """

    def decorator(view):
        view.upload_max_bytes = max_bytes
        return view

    return decorator


def limit_for(request) -> int:
    """The upload limit of the view `request` is routed to (UPLOAD_MAX_BYTES when it declares none)."""
    view = getattr(getattr(request, "resolver_match", None), "func", None)
    declared = getattr(view, "upload_max_bytes", None)
    if isinstance(declared, str):
        declared = getattr(settings, declared)
    return int(declared if declared is not None else settings.UPLOAD_MAX_BYTES)


@dataclass(frozen=True)
class UploadRefused:
    file_name: str
    limit: int

    @property
    def message(self) -> str:
        return _("Le fichier « %(name)s » dépasse la taille maximale acceptée ici (%(limit)s) : il n'a pas été "
                 "reçu.") % {"name": self.file_name, "limit": filesizeformat(self.limit)}


def upload_refusal(request) -> UploadRefused | None:
    """The refused upload of this request, if any (read `request.POST` or `request.FILES` first)."""
    return getattr(request, "upload_refused", None)


class LimitedUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = limit_for(self.request)
        self.declared_length = content_length or 0
        self.received = 0
        return None  # the next handlers store the files

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        if self.declared_length > self.limit + MULTIPART_OVERHEAD:
            self._refuse()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)  # over every file of the request
        if self.received > self.limit:
            self._refuse()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handlers build the uploaded file

    def _refuse(self):
        self.request.upload_refused = UploadRefused(file_name=self.file_name or "", limit=self.limit)
        raise StopUpload(connection_reset=True)
