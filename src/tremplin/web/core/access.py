"""Explicit access declarations for every view and API endpoint.

Every view is wrapped with `view_access(...)` (or, for DRF, declares `access_expect` and uses
`RulesPermission`). The declaration carries the `rules` permission checked at run time and the
expected HTTP status per persona, which the permission-matrix test (tests/web/test_permission_matrix.py)
checks for every URL pattern it discovers. A route without a declaration fails that test.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

ROLES: tuple[str, ...] = (
    "admin",
    "programme_manager",
    "network_member",
    "innovator",
    "reviewer",
    "evaluator",
    "decision_maker",
)


@dataclass(frozen=True)
class Expect:
    """Expected status of a GET for each persona (anonymous, each role), used by the matrix test.

    `default` applies to authenticated roles not listed in `roles`. `sample` names the object the
    matrix test uses to fill URL parameters (see tests/web/conftest.py::matrix_world).
    """

    anonymous: int
    default: int
    roles: Mapping[str, int] = field(default_factory=dict)
    sample: str | None = None
    methods: tuple[str, ...] = ("GET",)

    def status_for(self, persona: str | None) -> int:
        if persona is None:
            return self.anonymous
        return self.roles.get(persona, self.default)


PUBLIC = Expect(anonymous=200, default=200)
LOGGED_IN = Expect(anonymous=302, default=200)


def only_roles(*roles: str, sample: str | None = None, others: int = 403, anonymous: int = 302) -> Expect:
    """Expectation for a view reserved to some roles."""
    return Expect(anonymous=anonymous, default=others, roles=dict.fromkeys(roles, 200), sample=sample)


@dataclass(frozen=True)
class AccessDeclaration:
    permission: str | None
    expect: Expect
    public: bool


def view_access(
    permission: str | None,
    *,
    expect: Expect,
    public: bool = False,
    get_object: Callable[..., object] | None = None,
):
    """Declare and enforce who may call a function view.

    - `public=True`: no login needed (anonymous visitors allowed); otherwise redirect to login.
    - `permission`: a `rules` permission name checked with `user.has_perm(permission, obj)`,
      where `obj = get_object(request, **kwargs)` when given. Refusals are audited and give 403.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if not public and not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if permission is not None:
                obj = get_object(request, **kwargs) if get_object is not None else None
                if not request.user.has_perm(permission, obj):
                    from tremplin.web.core.audit import audit_access_denied

                    audit_access_denied(request=request, permission=permission, obj=obj)
                    raise PermissionDenied
                if obj is not None:
                    kwargs["obj"] = obj
            return view(request, *args, **kwargs)

        wrapper.tremplin_access = AccessDeclaration(permission, expect, public)
        return wrapper

    return decorator


# Third-party routes (allauth, admin, django's i18n) declared by URL name prefix or namespace.
THIRD_PARTY_ROUTES: dict[str, Expect] = {}


def declare_third_party(name_prefix: str, expect: Expect) -> None:
    THIRD_PARTY_ROUTES[name_prefix] = expect
