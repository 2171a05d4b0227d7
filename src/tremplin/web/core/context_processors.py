from __future__ import annotations

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from tremplin.web.core.navigation import items_for


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    source = {"source_code_url": settings.SOURCE_CODE_URL or reverse("core:source")}
    if user is None or not user.is_authenticated:
        return {"nav_items": [], **source}
    items = []
    for item in items_for(user):
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        items.append({"label": item.label, "url": url, "active": False})
    # The entry whose URL is the longest prefix of the current path is the current page.
    matching = [i for i in items if request.path.startswith(i["url"]) and i["url"] != "/"]
    if matching:
        max(matching, key=lambda i: len(i["url"]))["active"] = True
    return {"nav_items": items, "user_roles": sorted(user.roles), **source}
