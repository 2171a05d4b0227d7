"""Audit trail: every create/update/delete of tracked models, logins, and refused access."""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from tremplin.web.core.models import AuditAction, AuditLog

# Apps whose models are audited (later capability apps add themselves here).
TRACKED_APP_LABELS = {
    "accounts", "core", "jobs", "problems", "calls", "portfolio", "evaluations", "funding",
    "scaleup", "horizon", "campaign", "account", "mfa", "authtoken", "notifications",
}
UNTRACKED_MODELS = {"core.auditlog"}
SECRET_FIELDS = {"password", "key", "data", "secret", "token", "key_hash"}
# Bookkeeping fields whose changes alone are not worth an entry (logins are audited separately).
IGNORED_FIELDS = {"accounts.user": {"last_login"}, "mfa.authenticator": {"last_used_at"}}

_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar("tremplin_audit", default=None)


def set_context(*, user=None, ip: str | None = None, path: str = "", request=None) -> contextvars.Token:
    """`request`: its user is read when an entry is written (DRF sets token users after the middleware)."""
    return _context.set({"user": user, "ip": ip, "path": path, "request": request})


def reset_context(token: contextvars.Token) -> None:
    _context.reset(token)


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind the reverse proxy (settings.BEHIND_PROXY) the last
    X-Forwarded-For entry, the one the proxy wrote (earlier entries come from the client and prove nothing)."""
    if getattr(settings, "BEHIND_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR") or None


def _jsonable(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _label(sender) -> str:
    return sender._meta.label_lower


def _tracked(sender) -> bool:
    return sender._meta.app_label in TRACKED_APP_LABELS and _label(sender) not in UNTRACKED_MODELS


def _secret_values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields
            if f.name in SECRET_FIELDS}


def _field_values(instance) -> dict:
    values = {}
    for f in instance._meta.concrete_fields:
        value = getattr(instance, f.attname)
        values[f.attname] = "***" if f.name in SECRET_FIELDS else _jsonable(value)
    return values


def write_entry(*, action: str, instance=None, changes: dict | None = None, actor=None,
                object_repr: str = "", model: str = "", object_pk: str = "") -> AuditLog:
    ctx = _context.get() or {}
    if actor is None:
        actor = getattr(ctx.get("request"), "user", None) or ctx.get("user")
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if instance is not None:
        model = model or _label(type(instance))
        if instance._meta.pk.name in SECRET_FIELDS:  # e.g. API tokens: the key is the primary key
            object_pk = "***"
            object_repr = object_repr or str(getattr(instance, "user", "") or "***")[:254]
        object_pk = object_pk or str(instance.pk or "")
        object_repr = object_repr or str(instance)[:254]
    return AuditLog.objects.create(
        actor=actor,
        actor_repr=(getattr(actor, "email", "") or str(actor or ""))[:254] if actor else "",
        action=action,
        model=model,
        object_pk=object_pk,
        object_repr=object_repr[:254],
        changes=changes or {},
        ip_address=ctx.get("ip"),
        path=(ctx.get("path") or "")[:300],
    )


@receiver(pre_save)
def _remember_old_values(sender, instance, raw=False, **kwargs):
    if raw or not _tracked(sender) or instance.pk is None:
        return
    try:
        old = sender._base_manager.get(pk=instance.pk)
    except sender.DoesNotExist:
        return
    instance._audit_old_values = _field_values(old)
    instance._audit_old_secrets = _secret_values(old)


@receiver(post_save)
def _audit_save(sender, instance, created, raw=False, **kwargs):
    if raw or not _tracked(sender):
        return
    new = _field_values(instance)
    if created:
        write_entry(action=AuditAction.CREATE, instance=instance,
                    changes={k: [None, v] for k, v in new.items() if v not in (None, "")})
        return
    old = getattr(instance, "_audit_old_values", {})
    changed = {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}
    old_secrets = getattr(instance, "_audit_old_secrets", {})
    new_secrets = _secret_values(instance)
    changed.update({k: ["***", "***"] for k, v in new_secrets.items() if k in old_secrets and old_secrets[k] != v})
    ignored = set(getattr(sender, "audit_ignore_fields", ())) | IGNORED_FIELDS.get(_label(sender), set())
    if not changed or set(changed) <= ignored:
        return
    write_entry(action=AuditAction.UPDATE, instance=instance, changes=changed)
    instance._audit_old_values = new
    instance._audit_old_secrets = new_secrets


@receiver(post_delete)
def _audit_delete(sender, instance, **kwargs):
    if not _tracked(sender):
        return
    write_entry(action=AuditAction.DELETE, instance=instance,
                changes={k: [v, None] for k, v in _field_values(instance).items()})


@receiver(user_logged_in)
def _audit_login(sender, request, user, **kwargs):
    if request is not None:
        request.session["tremplin_login_at"] = dt.datetime.now(dt.UTC).timestamp()
    write_entry(action=AuditAction.LOGIN_SUCCESS, actor=user, model=user._meta.label_lower,
                object_pk=str(user.pk), object_repr=str(user))


@receiver(user_logged_out)
def _audit_logout(sender, request, user, **kwargs):
    if user is not None:
        write_entry(action=AuditAction.LOGOUT, actor=user, model=user._meta.label_lower,
                    object_pk=str(user.pk), object_repr=str(user))


@receiver(user_login_failed)
def _audit_login_failed(sender, credentials, request=None, **kwargs):
    identifier = str(credentials.get("email") or credentials.get("username") or credentials.get("login") or "")
    user = get_user_model().objects.filter(email__iexact=identifier).first() if identifier else None
    token = None
    if request is not None and _context.get() is None:
        token = set_context(ip=client_ip(request), path=request.path)
    try:
        write_entry(action=AuditAction.LOGIN_FAILURE, actor=None, model="accounts.user",
                    object_pk=str(user.pk) if user else "", object_repr=identifier[:254])
    finally:
        if token is not None:
            reset_context(token)


def audit_access_denied(*, request, permission: str, obj=None) -> None:
    """Record a refused access (called by views and the API permission class)."""
    write_entry(
        action=AuditAction.ACCESS_DENIED,
        actor=request.user if request.user.is_authenticated else None,
        model=_label(type(obj)) if obj is not None and hasattr(obj, "_meta") else "",
        object_pk=str(getattr(obj, "pk", "") or ""),
        object_repr=f"{permission} {request.method} {request.path}"[:254],
    )
