"""Server error pages that need nothing that may have failed: no database, no session, no user.

`handler500` (web/urls.py) answers every uncaught exception when DEBUG is off. A database that cannot be reached
(OperationalError, InterfaceError: server down, connection refused, file unreadable) gets "503 Service
Unavailable" with `Retry-After`, an HTML page in the visitor's language (French or English, from the language
cookie or Accept-Language, read without the database) or, under /api/, a JSON body. Connections are opened per
request (CONN_MAX_AGE=0), so the platform recovers by itself as soon as the database is back.
"""

from __future__ import annotations

import sys

from csp.utils import build_policy
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _

RETRY_AFTER_SECONDS = 30
DATABASE_ERRORS = (OperationalError, InterfaceError)


def database_unavailable(exc: BaseException | None) -> bool:
    """True when `exc`, or what caused it, says the database cannot be reached."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, DATABASE_ERRORS):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def server_error(request, *args, **kwargs):
    """500, or 503 when the database is unavailable; rendered without a request context."""
    unavailable = database_unavailable(sys.exc_info()[1])
    status = 503 if unavailable else 500
    if request.path.startswith("/api/"):
        detail = (_("Service momentanément indisponible : la base de données ne répond pas. Réessayez.")
                  if unavailable else _("Erreur du serveur."))
        response = JsonResponse({"detail": detail}, status=status)
    else:
        response = HttpResponse(loader.get_template("503.html" if unavailable else "500.html").render(),
                                status=status)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    # The error may have stopped the request before the CSP and clickjacking middleware: their headers, here.
    response["Content-Security-Policy"] = build_policy()
    response["X-Frame-Options"] = "DENY"
    return response
