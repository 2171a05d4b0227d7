"""Pages of the notifications app: a user's notifications, follows and preferences; the managers' mail log,
outbox and template editor."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tremplin.web.core.access import LOGGED_IN, Expect, only_roles, view_access
from tremplin.web.core.validation import parse_id
from tremplin.web.notifications import registry, selectors, services
from tremplin.web.notifications.forms import MailTemplateForm, OutboxForm, PreferenceForm
from tremplin.web.notifications.models import MailStatus, NotificationPreference, OutgoingMail

MANAGERS = ("admin", "programme_manager")
PAGE_SIZE = 50


def _ids(request) -> list[int]:
    return [i for i in (parse_id(v) for v in request.POST.getlist("ids")[:5000]) if i is not None]


# --- a user's notifications, follows, preferences ------------------------------------------------------------


@view_access("notifications.view_notifications", expect=LOGGED_IN)
def notification_list(request):
    user = request.user
    page = Paginator(selectors.notifications_for(user=user), PAGE_SIZE).get_page(request.GET.get("page"))
    preference = NotificationPreference.objects.filter(user=user).first()
    form = PreferenceForm(initial={"language": preference.language if preference else "fr",
                                   "digest": preference.digest if preference else "daily"})
    return render(request, "notifications/notification_list.html", {
        "page": page, "follows": selectors.follows_for(user=user), "form": form,
        "unread": selectors.unread_count(user=user)})


@require_POST
@view_access("notifications.view_notifications", expect=Expect(anonymous=302, default=302, methods=("POST",)))
def notifications_read(request):
    ids = _ids(request)
    services.notifications_mark_read(user=request.user, ids=ids or None)
    return redirect("notifications:notification-list")


@require_POST
@view_access("notifications.view_notifications", expect=Expect(anonymous=302, default=302, methods=("POST",)))
def preferences(request):
    form = PreferenceForm(request.POST)
    if form.is_valid():
        services.preference_save(user=request.user, **form.cleaned_data)
        messages.success(request, _("Préférences enregistrées."))
    else:
        messages.error(request, _("Choisissez une langue et une fréquence."))
    return redirect("notifications:notification-list")


def _target(request, target: str, pk: int, **kwargs):
    followable = registry.FOLLOWABLES.get(target)
    if followable is None:
        raise Http404
    from django.apps import apps

    return get_object_or_404(apps.get_model(followable.model), pk=pk)


@require_POST
@view_access("notifications.follow", get_object=_target,
             expect=Expect(anonymous=302, default=302, sample="follow-problem", methods=("POST",)))
def follow(request, target: str, pk: int, obj):
    if request.POST.get("action") == "unfollow":
        services.follow_remove(user=request.user, target=obj)
        following = False
    else:
        services.follow_add(user=request.user, target=obj)
        following = True
    if request.htmx:
        return render(request, "notifications/_follow.html", {
            "target": obj, "slug": target, "following": following, "next": registry.FOLLOWABLES[target].url(obj)})
    messages.success(request, _("Vous suivez désormais cet élément.") if following
                     else _("Vous ne suivez plus cet élément."))
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = registry.FOLLOWABLES[target].url(obj)
    return redirect(back)


# --- managers: the mail log and the outbox ----------------------------------------------------------------------


def _scope_object(scope: str, pk: int | None):
    if not scope or not pk:
        return None
    from django.apps import apps

    return apps.get_model(registry.SCOPES[scope].model)._default_manager.filter(pk=pk).first()


@view_access("notifications.manage_mail", expect=only_roles(*MANAGERS))
def mail_log(request):
    filters = selectors.MailFilters.from_query(request.GET)
    page = Paginator(selectors.mail_list(filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/mail_log.html", {
        "page": page, "filters": filters, "statuses": MailStatus.choices,
        "kinds": [(k.key, str(k.label)) for k in registry.KINDS.values()],
        "scope_object": _scope_object(filters.scope, filters.scope_id)})


def _mail(request, pk: int, **kwargs) -> OutgoingMail:
    return get_object_or_404(OutgoingMail.objects.select_related("recipient", "created_by", "sent_by"), pk=pk)


@view_access("notifications.manage_mail", get_object=_mail, expect=only_roles(*MANAGERS, sample="mail"))
def mail_detail(request, pk: int, obj: OutgoingMail):
    mail_kind = registry.KINDS.get(obj.kind)
    return render(request, "notifications/mail_detail.html", {"mail": obj, "kind": mail_kind})


@require_http_methods(["GET", "POST"])
@view_access("notifications.manage_mail", expect=only_roles(*MANAGERS))
def outbox(request):
    """Held mails: review them, then send, cancel or recompose (from the edited template) a choice or all."""
    source = request.POST if request.method == "POST" else request.GET
    filters = selectors.MailFilters.from_query(source, status=MailStatus.HELD)
    filters = selectors.MailFilters(status=MailStatus.HELD, kind=filters.kind, q=filters.q, scope=filters.scope,
                                    scope_id=filters.scope_id)
    held = selectors.mail_list(filters=filters)
    if request.method == "POST":
        form = OutboxForm(request.POST)
        ids = _ids(request)
        if not form.is_valid() or (not ids and not form.cleaned_data.get("everything")):
            messages.error(request, _("Cochez au moins un courriel (ou « tous »), puis choisissez une action."))
        else:
            chosen = held if form.cleaned_data["everything"] else held.filter(pk__in=ids)
            action = form.cleaned_data["action"]
            if action == "send":
                n, job = services.outbox_send(mails=chosen, by=request.user)
                messages.success(request, _("%(n)s courriel(s) en cours d'envoi (tâche de fond).") % {"n": n})
            elif action == "cancel":
                n = services.outbox_cancel(mails=chosen, by=request.user)
                messages.success(request, _("%(n)s courriel(s) annulé(s).") % {"n": n})
            else:
                n = services.outbox_rerender(mails=chosen)
                messages.success(request, _("%(n)s courriel(s) recomposé(s) d'après le modèle actuel.") % {"n": n})
        return redirect(reverse("notifications:outbox") + _filters_query(filters))
    page = Paginator(held, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/outbox.html", {
        "page": page, "filters": filters, "total": page.paginator.count,
        "kinds": [(k.key, str(k.label)) for k in registry.KINDS.values()],
        "scope_object": _scope_object(filters.scope, filters.scope_id),
        "failed": selectors.mail_list(filters=selectors.MailFilters(
            status=MailStatus.FAILED, scope=filters.scope, scope_id=filters.scope_id)).count()})


def _filters_query(filters: selectors.MailFilters) -> str:
    from urllib.parse import urlencode

    params = {k: v for k, v in (("kind", filters.kind), ("q", filters.q), ("scope", filters.scope),
                                ("scope_id", filters.scope_id or "")) if v}
    return "?" + urlencode(params) if params else ""


# --- managers: templates ----------------------------------------------------------------------------------------


def _scope(request, scope: str, pk: int, **kwargs):
    found = registry.SCOPES.get(scope)
    if found is None:
        raise Http404
    from django.apps import apps

    return get_object_or_404(apps.get_model(found.model), pk=pk)


def _kind(key: str, scope_slug: str | None) -> registry.MailKind:
    mail_kind = registry.KINDS.get(key)
    if mail_kind is None or (scope_slug is not None and mail_kind.scope != scope_slug):
        raise Http404
    return mail_kind


def _template_rows(scope_slug: str | None, scope_obj) -> list[dict]:
    kinds = registry.kinds_for_scope(scope_slug) if scope_slug else list(registry.KINDS.values())
    rows = []
    for mail_kind in kinds:
        values = services.template_values(kind=mail_kind.key, scope=scope_obj)
        rows.append({"kind": mail_kind, "source": values["source"], "hold": values["hold"],
                     "subject": values["subject_fr"]})
    return rows


@view_access("notifications.manage_mail", expect=only_roles(*MANAGERS))
def templates_platform(request):
    return render(request, "notifications/templates.html", {"rows": _template_rows(None, None), "scope_obj": None})


@view_access("notifications.manage_scope_mail", get_object=_scope, expect=only_roles(*MANAGERS, sample="call-mail"))
def templates_scope(request, scope: str, pk: int, obj):
    return render(request, "notifications/templates.html", {
        "rows": _template_rows(scope, obj), "scope_obj": obj, "scope": registry.SCOPES[scope],
        "held": OutgoingMail.objects.filter(scope_type__app_label=obj._meta.app_label,
                                            scope_type__model=obj._meta.model_name, scope_id=obj.pk,
                                            status=MailStatus.HELD).count()})


def _edit(request, *, mail_kind: registry.MailKind, scope_obj, scope: registry.Scope | None):
    values = services.template_values(kind=mail_kind.key, scope=scope_obj)
    initial = {**{f: values[f] for f in services.TEXT_FIELDS}, "hold": values["hold"],
               **{f"option_{k}": v for k, v in values["options"].items()}}
    form = MailTemplateForm(request.POST or None, initial=initial, kind=mail_kind)
    previews = None
    status = 200
    if scope is not None:
        back = reverse("notifications:templates-scope", args=[scope.slug, scope_obj.pk])
    else:
        back = reverse("notifications:templates-platform")
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action", "save")
        texts = {f: form.cleaned_data[f] for f in services.TEXT_FIELDS}
        if action == "reset":
            services.mail_template_reset(kind=mail_kind.key, scope=scope_obj)
            messages.success(request, _("Modèle remis à son texte par défaut."))
            return redirect(back)
        errors = services.template_errors(kind=mail_kind.key, values=texts)
        if errors:
            for name, problems in errors.items():
                form.add_error(name, problems)
            status = 400
        elif action == "preview":
            previews = [(language, *services.render_texts(texts[f"subject_{language}"], texts[f"body_{language}"],
                                                          mail_kind.sample)) for language in registry.LANGUAGES]
        else:
            try:
                services.mail_template_save(kind=mail_kind.key, scope=scope_obj, hold=form.cleaned_data["hold"],
                                            options=form.options(), by=request.user, **texts)
            except ValidationError as exc:
                for name, problems in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, problems)
                status = 400
            else:
                messages.success(request, _("Modèle enregistré."))
                return redirect(back)
    return render(request, "notifications/template_form.html", {
        "form": form, "kind": mail_kind, "placeholders": list(mail_kind.placeholders.items()), "scope_obj": scope_obj, "scope": scope, "source": values["source"],
        "previews": previews, "back": back}, status=status)


@require_http_methods(["GET", "POST"])
@view_access("notifications.manage_mail", expect=only_roles(*MANAGERS, sample="mail-kind"))
def template_edit_platform(request, kind: str):
    return _edit(request, mail_kind=_kind(kind, None), scope_obj=None, scope=None)


@require_http_methods(["GET", "POST"])
@view_access("notifications.manage_scope_mail", get_object=_scope,
             expect=only_roles(*MANAGERS, sample="call-mail-kind"))
def template_edit_scope(request, scope: str, pk: int, kind: str, obj):
    return _edit(request, mail_kind=_kind(kind, scope), scope_obj=obj, scope=registry.SCOPES[scope])
