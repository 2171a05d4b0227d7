"""The notifications app's own mail kind: the digest of a follower's notifications."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tremplin.web.notifications.registry import MailKind, MailText, register_kind

DIGEST = register_kind(MailKind(
    key="notifications.digest",
    label=_("Résumé des nouveautés suivies"),
    placeholders={
        "name": _("nom du destinataire"),
        "count": _("nombre de nouveautés"),
        "items": _("la liste des nouveautés, une par ligne, avec leur lien"),
        "notifications_url": _("adresse de la page des notifications"),
    },
    defaults={
        "fr": MailText("[Tremplin] {{ count }} nouveauté(s) dans ce que vous suivez",
                       "Bonjour {{ name }},\n\nDu nouveau dans ce que vous suivez :\n\n{{ items }}\n\n"
                       "Toutes vos notifications : {{ notifications_url }}\n"
                       "(La fréquence de ce résumé se règle sur cette page.)\n"),
        "en": MailText("[Tremplin] {{ count }} update(s) in what you follow",
                       "Hello {{ name }},\n\nWhat changed in what you follow:\n\n{{ items }}\n\n"
                       "All your notifications: {{ notifications_url }}\n"
                       "(How often this digest comes is set on that page.)\n"),
    },
    sample={"name": "Camille Martin", "count": "2",
            "items": "- « Accès aux soins non programmés » est passée au statut « Qualifiée »\n"
                     "- « Appel : santé mentale » : les résultats sont publiés",
            "notifications_url": "https://tremplin.example.org/notifications/"},
))
