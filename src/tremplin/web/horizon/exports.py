"""CSV / XLSX exports of the signals: the internal one (what the list shows, one row per signal, with the panel's
aggregate and the links) and the public one (the signals marked public, what the public listing shows: no person,
no score, no link to internal problems or calls)."""

from __future__ import annotations

from django.http import HttpResponse

from tremplin.web.core.exports import spreadsheet_response
from tremplin.web.horizon import selectors
from tremplin.web.horizon.models import IMPACT_FIELDS

HEADER = ["id", "title", "summary", "domain", "horizon", "likelihood", *IMPACT_FIELDS, "impact_notes", "sources",
          "is_public", "status", "last_reviewed_on", "review_due_on", "review_overdue", "panel_n", "panel_mean",
          "panel_normalised", "panel_spread", "panel_disagreement", "problems", "calls"]


def signal_rows(signals, *, user) -> list[list]:
    """One row per signal; the linked calls are those `user` may see (a draft call stays hidden)."""
    signals = list(selectors.with_visible_links(signals, user=user).order_by("pk"))
    aggregates = selectors.panel_aggregates(signal_ids=[s.pk for s in signals])
    rows = []
    for s in signals:
        a = aggregates.get(s.pk)
        rows.append([
            s.pk, s.title, s.summary, s.domain, s.horizon, s.likelihood, *[getattr(s, f) for f in IMPACT_FIELDS],
            s.impact_notes, " ".join(s.source_link_list), s.is_public, s.status, s.last_reviewed_on.isoformat(),
            selectors.review_due_on(s).isoformat(), selectors.review_overdue(s),
            a.n if a else 0, a.mean if a else None, a.normalised if a else None, a.spread if a else None,
            bool(a and a.disagreement),
            "; ".join(f"{p.pk} {p.title}" for p in s.problems.all()), "; ".join(f"{c.pk} {c.title}" for c in s.calls.all()),
        ])
    return rows


def signals_response(signals, *, fmt: str, user) -> HttpResponse:
    return spreadsheet_response(header=HEADER, rows=signal_rows(signals, user=user), fmt=fmt, filename="veille-signaux",
                                sheet="signaux")


PUBLIC_HEADER = ["id", "title", "summary", "domain", "horizon", "likelihood", *IMPACT_FIELDS, "impact_notes",
                 "sources", "last_reviewed_on"]


def public_signal_rows(signals) -> list[list]:
    return [[s.pk, s.title, s.summary, s.domain, s.horizon, s.likelihood, *[getattr(s, f) for f in IMPACT_FIELDS],
             s.impact_notes, " ".join(s.source_link_list), s.last_reviewed_on.isoformat()]
            for s in signals.order_by("domain", "horizon", "-likelihood", "title", "pk")]


def public_signals_response(signals, *, fmt: str) -> HttpResponse:
    return spreadsheet_response(header=PUBLIC_HEADER, rows=public_signal_rows(signals), fmt=fmt,
                                filename="veille-publique", sheet="signaux")
