"""The shipped catalogues: complete, compiled, and used.

Nothing here needs GNU gettext: the ``.po`` files are read by a small parser,
the ``.mo`` files by Python's ``gettext`` module, and the strings the sources
mark for translation are found with ``ast`` and Django's own template
converter (what ``makemessages`` feeds to xgettext). So a string added to a
template or module without a Nepali translation, or a ``.po`` edited without
recompiling, fails the default suite.
"""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation.template import templatize

import django_verified_email
from tests.helpers import link_in

PACKAGE = Path(django_verified_email.__file__).parent
LOCALE = PACKAGE / "locale"
LANGUAGES = ("en", "ne")
PLURAL_FORMS = "nplurals=2; plural=(n != 1);"
DEVANAGARI = re.compile("[\u0900-\u097f]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")

# Calls xgettext extracts with Django's keywords: name -> (context arg, msgid arg).
PYTHON_KEYWORDS = {
    "_": (None, 0),
    "gettext": (None, 0),
    "gettext_lazy": (None, 0),
    "gettext_noop": (None, 0),
    "ngettext": (None, 0),
    "ngettext_lazy": (None, 0),
    "pgettext": (0, 1),
    "pgettext_lazy": (0, 1),
    "npgettext": (0, 1),
    "npgettext_lazy": (0, 1),
}
TEMPLATE_CALL = re.compile(
    r"\b(n?p?gettext|_)\(((?:\s*u?(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\s*,?)+)"
)


def parse_po(path):
    """{(context, msgid): entry}, entry = {"msgstr": [...], "plural": bool, "fuzzy": bool}.

    Enough of the format for the catalogues makemessages writes: entries are
    separated by blank lines, obsolete ones (``#~``) are skipped.
    """
    entries = {}
    entry, flags, field = {}, set(), None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry.get("msgid"):
                strings = [entry[name] for name in sorted(entry) if name.startswith("msgstr")]
                entries[(entry.get("msgctxt"), entry["msgid"])] = {
                    "msgstr": strings,
                    "plural": "msgid_plural" in entry,
                    "fuzzy": "fuzzy" in flags,
                }
            entry, flags, field = {}, set(), None
        elif line.startswith("#,"):
            flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[field] += ast.literal_eval(line)
        else:
            keyword, _, value = line.partition(" ")
            field = keyword.replace("[", "_").rstrip("]")
            entry[field] = ast.literal_eval(value)
    return entries


def read_po(language):
    return parse_po(LOCALE / language / "LC_MESSAGES" / "django.po")


def read_mo(language):
    with open(LOCALE / language / "LC_MESSAGES" / "django.mo", "rb") as file:
        return gettext.GNUTranslations(file)


def source_messages():
    """Every (context, msgid) the package's sources mark for translation."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in PYTHON_KEYWORDS:
                continue
            context_at, msgid_at = PYTHON_KEYWORDS[name]
            args = node.args
            if len(args) <= msgid_at or not isinstance(args[msgid_at], ast.Constant):
                continue
            context = args[context_at].value if context_at is not None else None
            found.add((context, args[msgid_at].value))
    for path in (PACKAGE / "templates").rglob("*"):
        if path.suffix not in (".html", ".txt"):
            continue
        converted = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        for name, args in TEMPLATE_CALL.findall(converted):
            strings = ast.literal_eval(f"({args.rstrip().rstrip(',')},)")
            if name.startswith(("p", "np")):
                found.add((strings[0], strings[1]))
            else:
                found.add((None, strings[0]))
    return found


def test_the_sources_are_scanned():
    messages = {msgid for _, msgid in source_messages()}
    # One from Python, one from a page template, one plural from an email.
    assert "Enter a valid email address." in messages
    assert "Change in progress" in messages
    assert "%(count)d hour" in messages


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_lists_exactly_the_source_strings(language):
    """What ``makemessages`` would write: nothing missing, nothing stale."""
    assert set(read_po(language)) == source_messages()


def test_nepali_translates_every_string():
    for (context, msgid), entry in read_po("ne").items():
        assert not entry["fuzzy"], msgid
        assert len(entry["msgstr"]) == (2 if entry["plural"] else 1), msgid
        for translated in entry["msgstr"]:
            assert translated, f"untranslated: {msgid}"
            words = PLACEHOLDER.sub("", msgid)
            assert DEVANAGARI.search(translated) or not re.search("[A-Za-z]", words), msgid
            # Placeholders survive translation, or formatting raises at run time.
            assert set(PLACEHOLDER.findall(translated)) == set(PLACEHOLDER.findall(msgid)), msgid


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogue_matches_the_po_file(language):
    catalogue = read_mo(language)
    assert catalogue.info()["plural-forms"] == PLURAL_FORMS
    entries = read_po(language)
    for (context, msgid), entry in entries.items():
        translated = [text for text in entry["msgstr"] if text]
        if not translated:
            continue
        if entry["plural"]:
            key_one, key_many = (msgid, 0), (msgid, 1)
            if context is not None:
                key_one, key_many = (f"{context}\x04{msgid}", 0), (f"{context}\x04{msgid}", 1)
            assert catalogue._catalog[key_one] == entry["msgstr"][0]
            assert catalogue._catalog[key_many] == entry["msgstr"][1]
        else:
            key = msgid if context is None else f"{context}\x04{msgid}"
            assert catalogue._catalog[key] == entry["msgstr"][0], msgid
    # Nothing compiled that the .po no longer has.
    compiled = {key[0] if isinstance(key, tuple) else key for key in catalogue._catalog}
    compiled.discard("")
    assert compiled <= {msgid if c is None else f"{c}\x04{msgid}" for c, msgid in entries}


def test_nepali_plural_forms():
    catalogue = read_mo("ne")
    tries = (
        "Your password was entered incorrectly. %(count)d try left.",
        "Your password was entered incorrectly. %(count)d tries left.",
    )
    assert catalogue.ngettext(*tries, 1) % {"count": 1} == (
        "तपाईंले पासवर्ड गलत लेख्नुभयो। अब 1 पटक मात्र प्रयास गर्न बाँकी छ।"
    )
    assert catalogue.ngettext(*tries, 3) % {"count": 3} == (
        "तपाईंले पासवर्ड गलत लेख्नुभयो। अब 3 पटक प्रयास गर्न बाँकी छ।"
    )
    for unit in ("second", "minute", "hour", "day"):
        one = catalogue.ngettext(f"%(count)d {unit}", f"%(count)d {unit}s", 1)
        many = catalogue.ngettext(f"%(count)d {unit}", f"%(count)d {unit}s", 5)
        assert one and many and "%(count)d" in one and "%(count)d" in many
    sent = "Sent a verification link to %(count)d user: %(users)s."
    sent_many = "Sent a verification link to %(count)d users: %(users)s."
    assert "प्रयोगकर्तालाई" in catalogue.ngettext(sent, sent_many, 1)
    assert "प्रयोगकर्ताहरूलाई" in catalogue.ngettext(sent, sent_many, 2)


def test_status_page_renders_in_nepali(logged_in):
    with translation.override("ne"):
        response = logged_in.get(reverse("verified_email:status"))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="ne" dir="ltr">' in page
    assert "<h1>तपाईंको इमेल ठेगाना</h1>" in page
    assert "प्रमाणित" in page
    assert "आफ्नो इमेल ठेगाना परिवर्तन गर्नुहोस्" in page


def test_verification_email_renders_in_nepali(client, make_user, mailoutbox):
    client.force_login(make_user(verified=False))
    with translation.override("ne"):
        response = client.post(reverse("verified_email:verify-send"))
    assert response.status_code == 302
    [message] = mailoutbox
    assert message.subject == "testserver: आफ्नो इमेल ठेगाना प्रमाणित गर्नुहोस्"
    # 24 hours by default: the plural form, with the number in place.
    assert "यो लिङ्क एक पटक मात्र चल्छ र 24 घण्टामा म्याद सकिन्छ।" in message.body
    html = message.alternatives[0][0]
    assert "मेरो इमेल ठेगाना प्रमाणित गर्नुहोस्" in html
    assert link_in(message)


def test_english_stays_the_source_text(client, make_user, mailoutbox):
    client.force_login(make_user(verified=False))
    with translation.override("en"):
        client.post(reverse("verified_email:verify-send"))
    assert mailoutbox[0].subject == "testserver: Verify your email address"
