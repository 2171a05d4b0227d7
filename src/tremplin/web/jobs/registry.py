"""Job handlers by kind. A handler is `fn(params: dict, progress: Callable[[float, str], None]) -> dict`."""

from __future__ import annotations

from collections.abc import Callable

Handler = Callable[[dict, Callable[[float, str], None]], dict]
HANDLERS: dict[str, Handler] = {}


def job_handler(kind: str):
    """Register a handler for jobs of `kind` (module import registers it)."""

    def decorator(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return decorator


def get_handler(kind: str) -> Handler:
    if kind not in HANDLERS:
        from tremplin.web.jobs import handlers  # noqa: F401  (built-in handlers)
    try:
        return HANDLERS[kind]
    except KeyError:
        raise LookupError(f"No job handler registered for kind {kind!r}; known: {sorted(HANDLERS)}") from None
