"""What other apps declare to the notifications app: mail kinds, scopes of templates, followable objects,
notification events and periodic tasks. Each app registers its own from `AppConfig.ready()`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.utils.functional import Promise

LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class MailText:
    subject: str
    body: str


@dataclass(frozen=True)
class MailKind:
    """A kind of e-mail: its placeholders (name → description shown to the editor) and its default texts in
    each language. `scope` names the registered scope whose objects can hold their own template (None: the
    platform-wide template only). `hold` is the default of "review in the outbox before sending"."""

    key: str
    label: str | Promise
    placeholders: Mapping[str, str | Promise]
    defaults: Mapping[str, MailText]
    scope: str | None = None
    hold: bool = False
    sample: Mapping[str, str] = field(default_factory=dict)  # context of the editor's preview
    options: Mapping[str, str | Promise] = field(default_factory=dict)  # extra settings (name → label)
    option_defaults: Mapping[str, str] = field(default_factory=dict)
    clean_options: Callable[[dict], dict] | None = None  # raises ValidationError({name: message})

    def default(self, language: str) -> MailText:
        return self.defaults.get(language) or self.defaults["fr"]


@dataclass(frozen=True)
class Scope:
    """Objects that hold their own templates (e.g. calls): URL slug, model label, who edits them."""

    slug: str
    model: str  # "app_label.model"
    permission: str  # rules permission checked on the object to edit its templates and read its outbox
    label: str | Promise


@dataclass(frozen=True)
class Followable:
    """Objects users follow: URL slug, model label, the permission to see (hence follow) one."""

    slug: str
    model: str
    permission: str
    label: str | Promise
    url: Callable[[object], str]


@dataclass(frozen=True)
class Event:
    """A notification event: `message(params)` gives the text in the active language."""

    key: str
    message: Callable[[Mapping], str]


KINDS: dict[str, MailKind] = {}
SCOPES: dict[str, Scope] = {}
FOLLOWABLES: dict[str, Followable] = {}
EVENTS: dict[str, Event] = {}
PERIODIC: dict[str, Callable[..., object]] = {}


def register_kind(kind: MailKind) -> MailKind:
    KINDS[kind.key] = kind
    return kind


def register_scope(scope: Scope) -> Scope:
    SCOPES[scope.slug] = scope
    return scope


def register_followable(followable: Followable) -> Followable:
    FOLLOWABLES[followable.slug] = followable
    return followable


def register_event(event: Event) -> Event:
    EVENTS[event.key] = event
    return event


def register_periodic(name: str, func: Callable[..., object]) -> None:
    """`func(now=...)` runs at each tick of the scheduler (hourly); it must be idempotent."""
    PERIODIC[name] = func


def kind(key: str) -> MailKind:
    try:
        return KINDS[key]
    except KeyError:
        raise LookupError(f"unknown mail kind {key!r}; known: {sorted(KINDS)}") from None


def scope_for_model(label: str) -> Scope | None:
    return next((s for s in SCOPES.values() if s.model == label), None)


def followable_for_model(label: str) -> Followable | None:
    return next((f for f in FOLLOWABLES.values() if f.model == label), None)


def kinds_for_scope(slug: str | None) -> list[MailKind]:
    return [k for k in KINDS.values() if k.scope == slug]
