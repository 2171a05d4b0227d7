"""API viewsets of this app; `register(router)` is called by tremplin/web/api_urls.py."""


def register(router) -> None:
    """Register this app's viewsets on the v1 router."""
