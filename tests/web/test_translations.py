"""English translation of the French user interface.

The catalogue `src/tremplin/web/locale/en/LC_MESSAGES/django.po` must be complete (no untranslated or
fuzzy entry, placeholders kept) and up to date with the source strings; Django must serve English when
asked (Accept-Language header, language cookie, language switcher) and French otherwise.

The `.mo` files are build outputs (`make messages`): the runtime tests compile the committed `.po` into
a temporary directory with `msgfmt --check-format`, as `compilemessages` does, so they always check the
catalogue in the repository rather than a stale local build.
"""

from __future__ import annotations

import ast
import html
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext

from tests.conftest import require
from tests.web.conftest import login_mfa_verified
from tremplin.web.accounts.models import Role

WEB_DIR = Path(settings.WEB_DIR)
LOCALE_DIR = WEB_DIR / "locale"
EN_PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]")
HOW_TO_FIX = (
    "Refresh and translate the catalogue: `make translations` (makemessages -l en --ignore=migrations "
    "--no-location), then fill in every msgstr of locale/en/LC_MESSAGES/django.po and remove the '#, fuzzy' flags."
)


# --- reading the catalogue --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One message of a .po catalogue (the header and obsolete `#~` entries are left out)."""

    msgid: str
    msgid_plural: str | None
    msgstrs: tuple[str, ...]
    fuzzy: bool
    line: int

    @property
    def untranslated(self) -> bool:
        return not self.msgstrs or any(not s for s in self.msgstrs)

    def describe(self) -> str:
        state = "fuzzy" if self.fuzzy else "untranslated"
        return f"  line {self.line} ({state}): {self.msgid!r}"


def _unquote(text: str) -> str:
    """A quoted .po string ("...", with C escapes) as text."""
    return ast.literal_eval(text) if text else ""


def parse_po(text: str) -> list[Entry]:
    """Minimal .po parser: msgid, msgid_plural, msgstr / msgstr[n], continuation lines, `#,` flags."""
    entries: list[Entry] = []
    fields: dict[str, str] = {}
    flags: set[str] = set()
    start = 0
    key: str | None = None

    def flush() -> None:
        nonlocal fields, flags, key
        if "msgid" in fields and fields["msgid"]:
            strs = tuple(fields[k] for k in sorted(k for k in fields if k.startswith("msgstr")))
            entries.append(Entry(fields["msgid"], fields.get("msgid_plural"), strs, "fuzzy" in flags, start))
        fields, flags, key = {}, set(), None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if any(k.startswith("msgstr") for k in fields) and (
            not line or line.startswith(("#", "msgid ", "msgctxt "))
        ):
            flush()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#,"):
            flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            if key is not None:
                fields[key] += _unquote(line)
        else:
            key, _, value = line.partition(" ")
            if not fields and key in {"msgid", "msgctxt"}:
                start = number
            fields[key] = _unquote(value.strip())
    flush()
    return entries


def read_catalogue(path: Path) -> list[Entry]:
    """Entries of a .po file, read with polib if installed, else Babel, else `parse_po`."""
    try:
        import polib
    except ImportError:
        polib = None
    if polib is not None:
        result = []
        for e in polib.pofile(str(path)):
            if e.obsolete or not e.msgid:
                continue
            strs = tuple(e.msgstr_plural[i] for i in sorted(e.msgstr_plural)) if e.msgid_plural else (e.msgstr,)
            result.append(Entry(e.msgid, e.msgid_plural or None, strs, "fuzzy" in e.flags, e.linenum))
        return result
    try:
        from babel.messages.pofile import read_po
    except ImportError:
        return parse_po(path.read_text(encoding="utf-8"))
    with path.open("rb") as fh:
        catalogue = read_po(fh, locale="en")
    result = []
    for m in catalogue:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id, None)
        strs = tuple(m.string) if isinstance(m.string, tuple | list) else (m.string,)
        result.append(Entry(ids[0], ids[1], tuple(s or "" for s in strs), m.fuzzy, m.lineno))
    return result


def problems(entries: list[Entry]) -> list[str]:
    """Untranslated or fuzzy entries, and translations that lose or invent a %(name)s placeholder."""
    found = [e.describe() for e in entries if e.fuzzy or e.untranslated]
    for e in entries:
        if e.fuzzy or e.untranslated:
            continue
        sources = [e.msgid] + [e.msgid_plural or e.msgid] * (len(e.msgstrs) - 1)
        for source, translated in zip(sources, e.msgstrs, strict=True):
            if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(translated)):
                found.append(f"  line {e.line} (placeholders differ): {e.msgid!r} -> {translated!r}")
    return found


def test_minimal_parser_reads_a_small_catalogue():
    text = '''msgid ""
msgstr ""
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

#: a.py:1
msgid "Bonjour"
msgstr "Hello"

#, fuzzy
#| msgid "Créer un compte"
msgid "Créer un jeton"
msgstr "Create an account"

#, python-format
msgid "%(n)s erreur"
msgid_plural "%(n)s erreurs"
msgstr[0] "%(n)s error"
msgstr[1] ""

msgid ""
"Une longue "
"ligne « citée »\\n"
msgstr "A long line \\"quoted\\"\\n"

#~ msgid "Ancien"
#~ msgstr "Old"
'''
    entries = parse_po(text)
    assert [(e.msgid, e.msgid_plural, e.msgstrs, e.fuzzy) for e in entries] == [
        ("Bonjour", None, ("Hello",), False),
        ("Créer un jeton", None, ("Create an account",), True),
        ("%(n)s erreur", "%(n)s erreurs", ("%(n)s error", ""), False),
        ("Une longue ligne « citée »\n", None, ('A long line "quoted"\n',), False),
    ]
    assert [e.line for e in entries] == [6, 11, 15, 20]
    assert [e.msgid for e in entries if e.fuzzy or e.untranslated] == ["Créer un jeton", "%(n)s erreur"]
    assert problems(parse_po('msgid "Page %(n)s"\nmsgstr "Page %(total)s"\n')) == [
        "  line 1 (placeholders differ): 'Page %(n)s' -> 'Page %(total)s'"
    ]


def test_minimal_parser_agrees_with_the_library_reader():
    assert [(e.msgid, e.msgid_plural, e.msgstrs, e.fuzzy) for e in parse_po(EN_PO.read_text("utf-8"))] == [
        (e.msgid, e.msgid_plural, e.msgstrs, e.fuzzy) for e in read_catalogue(EN_PO)
    ]


# --- (a) the committed catalogue is complete ---------------------------------------------------------------


def test_english_catalogue_is_complete():
    entries = read_catalogue(EN_PO)
    assert len(entries) > 100, f"{EN_PO} looks truncated: {len(entries)} entries"
    found = problems(entries)
    assert not found, f"{len(found)} problem(s) in {EN_PO}:\n" + "\n".join(found) + "\n" + HOW_TO_FIX


def test_english_catalogue_header_declares_english_plurals():
    header = EN_PO.read_text("utf-8").split("\n\n", 1)[0]
    assert '"Language: en\\n"' in header
    assert '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"' in header
    assert "#, fuzzy" not in header, "a fuzzy header is ignored by msgfmt (plural forms would be lost)"


def test_catalogue_is_where_django_looks_for_it():
    assert LOCALE_DIR in [Path(p) for p in settings.LOCALE_PATHS]
    assert settings.LANGUAGE_CODE == "fr"
    assert [code for code, _name in settings.LANGUAGES] == ["fr", "en"]


def test_catalogue_covers_every_source_string(tmp_path, monkeypatch, settings):
    """makemessages on a copy of the web sources must find nothing new to translate."""
    require(bool(shutil.which("xgettext") and shutil.which("msgmerge")), "GNU gettext (xgettext, msgmerge) missing")
    copy = tmp_path / "web"
    shutil.copytree(WEB_DIR, copy, ignore=shutil.ignore_patterns("migrations", "static", "__pycache__", "*.mo"))
    settings.LOCALE_PATHS = [copy / "locale"]  # never touch the real catalogue
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["en"], ignore_patterns=["migrations"], verbosity=0)
    refreshed = read_catalogue(copy / "locale" / "en" / "LC_MESSAGES" / "django.po")
    found = problems(refreshed)
    assert not found, (
        f"{len(found)} source string(s) missing from or outdated in the English catalogue "
        f"(line numbers refer to the refreshed catalogue):\n" + "\n".join(found) + "\n" + HOW_TO_FIX
    )


# --- (b) Django translates with the catalogue --------------------------------------------------------------


@pytest.fixture(scope="module")
def compiled_locale(tmp_path_factory) -> Path:
    """The committed .po compiled as `compilemessages` does (msgfmt --check-format) into a temporary dir."""
    require(shutil.which("msgfmt") is not None, "GNU gettext msgfmt missing (needed by compilemessages too)")
    root = tmp_path_factory.mktemp("locale")
    target = root / "en" / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(EN_PO, target / "django.po")
    done = subprocess.run(["msgfmt", "--check-format", "-o", str(target / "django.mo"), str(target / "django.po")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"msgfmt rejected {EN_PO}:\n{done.stderr}"
    return root


@pytest.fixture
def english_catalogue(settings, compiled_locale):
    """Point Django at the freshly compiled catalogue (translation caches are reset on the change)."""
    settings.LOCALE_PATHS = [compiled_locale]
    yield compiled_locale


KEY_STRINGS = {
    "Tableau de bord": "Dashboard",
    "Journal d'audit": "Audit log",
    "Tâches de fond": "Background jobs",
    "Territoires": "Territories",
    "Organisations du réseau": "Network organisations",
    "Se connecter": "Sign in",
    "Français": "French",
}


@pytest.mark.usefixtures("english_catalogue")
def test_key_strings_translate_to_english_and_stay_french():
    with translation.override("en"):
        assert {fr: gettext(fr) for fr in KEY_STRINGS} == KEY_STRINGS
        assert str(Role.REVIEWER.label) == "Reviewer (expert panel)"
        assert str(Role.DECISION_MAKER.label) == "Decision maker / payer"
        assert gettext("English") == "English"
        assert ngettext("%(n)s erreur — rien n'a été importé", "%(n)s erreurs — rien n'a été importé", 1) == (
            "%(n)s error — nothing was imported"
        )
        assert ngettext("%(n)s erreur — rien n'a été importé", "%(n)s erreurs — rien n'a été importé", 3) == (
            "%(n)s errors — nothing was imported"
        )
    with translation.override("fr"):
        assert {fr: gettext(fr) for fr in KEY_STRINGS} == {fr: fr for fr in KEY_STRINGS}
        assert str(Role.REVIEWER.label) == "Évaluateur expert (jury)"
        # The one English source string (a language name in settings.LANGUAGES) is French in French.
        assert gettext("English") == "Anglais"


# --- (c) pages in English on request, French by default -----------------------------------------------------


def _text(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


@pytest.mark.django_db
@pytest.mark.usefixtures("english_catalogue")
def test_home_page_is_french_by_default_and_english_on_request(client):
    url = reverse("core:home")
    french = _text(client.get(url))
    assert '<html lang="fr">' in french
    assert "Faire passer les innovations en santé de l'expérimentation à l'impact" in french
    assert "Créer un compte" in french

    english = _text(client.get(url, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9"))
    assert '<html lang="en">' in english
    assert "Taking health innovations from experimentation to impact" in english
    assert "calls for solutions turn them into experiments" in english
    assert "Create an account" in english
    assert "Créer un compte" not in english

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "Skip to content" in _text(client.get(url))


@pytest.mark.django_db
@pytest.mark.usefixtures("english_catalogue")
def test_dashboard_in_english_with_the_language_cookie(client, make_user):
    client.force_login(make_user(Role.NETWORK_MEMBER))
    url = reverse("core:dashboard")
    assert "<title>Tableau de bord · Tremplin</title>" in _text(client.get(url))

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = _text(client.get(url))
    assert '<html lang="en">' in page
    assert "<title>Dashboard · Tremplin</title>" in page
    assert "Your roles:" in page
    assert "Network member" in page
    assert "Report a problem experienced in your territory" in page
    assert "Tableau de bord" not in page


@pytest.mark.django_db
@pytest.mark.usefixtures("english_catalogue")
def test_language_switcher_sets_english_for_the_admin_dashboard(client, admin_user):
    login_mfa_verified(client, admin_user)
    dashboard = reverse("core:dashboard")
    response = client.post(reverse("set_language"), {"language": "en", "next": dashboard})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = _text(client.get(dashboard))
    for label in ("Dashboard", "Organisations", "Territories", "Jobs", "Audit log", "Import territories"):
        assert f">{label}<" in page, label
    assert "Journal d'audit" not in page
