"""Each language is whole: every page of every role (the list the accessibility sweep walks)
shows, in English, no Chinese in its labels, help texts, buttons and headings, and, in Chinese,
no untranslated English there; Chinese text uses full-width punctuation."""

import gettext
import io
import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management import call_command

from grids.models import Building, Community, Department, Grid, Subdistrict, User
from issues.models import Category, CategoryQuestion, Holiday, Issue, IssueTask, ReturnReason
from participation.models import PartnerUnit, PartyRegistration
from tests.browser.sweep import PAGES, SPECIAL, paths_for

CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
# Words that stay as they are in Chinese text: formats, units, names of things.
LATIN_WORDS = {"JPEG", "PNG", "WebP", "MB", "KB", "Cookie", "CSV", "Excel", "XLSX", "GeoJSON"}
LATIN_WORDS |= {"csv", "xlsx"}  # file formats as the import and export pages list them
LATIN_WORDS |= {"API", "ID", "Open311", "SLA", "URL", "Django", "English", "h", "IP", "HTTP"}
LATIN_WORDS |= {
    "GET",
    "POST",
    "SHA",
    "LDAP",
    "Accept",
    "Control",
    "Command",
    "Mac",
    "HMAC",
    "Webhook",
    "Open",  # of Open311, as the word pattern below splits it
}  # keys, protocols
# GeoJSON's own type names and keys, as an administrator pastes them; the WGS-84 datum.
LATIN_WORDS |= {"WGS", "Polygon", "MultiPolygon", "type", "coordinates"}
# Django's admin writes these as the alt text of its yes/no icons, untranslated (its own code).
LATIN_WORDS |= {"True", "False", "None"}

# How django-axes names its sign-in records (rows written while the test signs in).
SIGN_IN_RECORD = re.compile(r"(Access Log for|Attempted Access:|Failed access:) [^|]*")

UI_TAGS = {"label", "legend", "button", "h1", "h2", "h3", "h4", "h5", "h6", "th", "summary"}
UI_TAGS |= {"caption", "title", "dt", "option"}
UI_CLASSES = {"form-text", "help", "helptext", "invalid-feedback", "errorlist"}
UI_ATTRIBUTES = ("aria-label", "placeholder", "title", "alt")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
VOID |= {"track", "wbr", "param"}


class InterfaceText(HTMLParser):
    """The words the interface itself says: labels, help texts, buttons, headings, accessible
    names. Text marked with another language (the language switch) is left out."""

    def __init__(self, lang):
        super().__init__()
        self.lang, self.stack, self.texts, self.page_lang = lang, [], [], None

    def _inside_ui(self):
        return any(tag in UI_TAGS or classes & UI_CLASSES for tag, classes, _ in self.stack)

    def _foreign(self, attrs=None):
        langs = [lang for _, _, lang in self.stack if lang] + [(attrs or {}).get("lang")]
        langs = [lang for lang in langs if lang]
        return bool(langs) and not langs[-1].lower().startswith(self.lang)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if not self._foreign(attrs):
            self.texts += [attrs[a] for a in UI_ATTRIBUTES if attrs.get(a)]
            if tag == "input" and attrs.get("type") in ("submit", "button"):
                self.texts.append(attrs.get("value") or "")
        if tag == "html":
            self.page_lang = attrs.get("lang") or ""
        elif tag not in VOID:
            classes = set((attrs.get("class") or "").split())
            self.stack.append((tag, classes, attrs.get("lang")))

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        if data.strip() and self._inside_ui() and not self._foreign():
            self.texts.append(data)


def data_words() -> list[str]:
    """What people typed (names, titles, addresses): any language may appear in those."""
    words = set()
    for model in (Subdistrict, Community, Grid, Building, Department, Category):
        words |= set(model.objects.values_list("name", flat=True))
    words |= set(Building.objects.values_list("address", flat=True))
    words |= set(Category.objects.values_list("hint", flat=True))
    # Lists the administrator keeps: the holidays as published, the reasons for a return.
    words |= set(Holiday.objects.values_list("name", flat=True))
    words |= set(ReturnReason.objects.values_list("name", flat=True))
    # The partner units of each community (红色合伙人) and party organisations people named.
    words |= set(PartnerUnit.objects.values_list("name", flat=True))
    words |= set(PartyRegistration.objects.values_list("organisation", flat=True))
    for field in ("instruction", "note"):
        words |= set(IssueTask.objects.values_list(field, flat=True))
    for question in CategoryQuestion.objects.all():
        words |= {question.label, *(label for _, label in question.choice_list)}
    for field in ("title", "address", "description", "tracking_number"):
        words |= set(Issue.objects.values_list(field, flat=True))
    for user in User.objects.all():
        words |= {user.username, user.get_full_name(), user.last_name, user.first_name}
    # Rows Django writes in English: permission names.
    words |= set(Permission.objects.values_list("name", flat=True))
    return sorted((w for w in words if w), key=len, reverse=True)


def interface_texts(client, path, lang, data) -> list[str]:
    response = client.get(path, follow=True, headers={"accept-language": lang})
    parser = InterfaceText(lang)
    parser.feed(response.content.decode())
    assert parser.page_lang.lower().startswith(lang), f"{path} is not in {lang}"
    texts = []
    for text in parser.texts:
        for word in data:
            text = text.replace(word, " ")
        text = SIGN_IN_RECORD.sub(" ", text)
        texts.append(" ".join(text.split()))
    return [text for text in texts if text]


def untranslated_english(text: str) -> list[str]:
    words = re.findall(r"[A-Za-z][A-Za-z']+", text)
    return [w for w in words if w not in LATIN_WORDS]


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=io.StringIO())
    return data_words()


def walk(client, lang, data, check) -> list[str]:
    problems = []
    for role in PAGES:
        client.logout()
        if role != "anonymous":
            client.force_login(User.objects.get(username=role))
        for path, _status in paths_for(role):
            if path in SPECIAL:
                continue
            for text in interface_texts(client, path, lang, data):
                problem = check(text)
                if problem:
                    problems.append(f"{role} {path}: {text!r} ({problem})")
    return sorted(set(problems))


def test_no_chinese_in_the_english_interface(client, demo):
    def chinese(text):
        return re.findall(f"[{CJK}]+", text)

    problems = walk(client, "en", demo, chinese)
    assert not problems, "\n".join(problems)


def test_no_english_left_in_the_chinese_interface(client, demo):
    def english_or_ascii_colon(text):
        return untranslated_english(text) or re.findall(f"[{CJK}]:", text)

    problems = walk(client, "zh", demo, english_or_ascii_colon)
    assert not problems, "\n".join(problems)


def test_chinese_catalogue_uses_full_width_punctuation():
    path = settings.LOCALE_PATHS[0] / "zh_Hans" / "LC_MESSAGES" / "django.mo"
    with open(path, "rb") as mo:
        catalogue = gettext.GNUTranslations(mo)._catalog
    names = "name|caller|grid|where|unit|department|worker|assignee"
    rules = {
        "ASCII punctuation beside Chinese": rf"[{CJK}]\s*[:;(),!?]|[:;(),!?]\s*[{CJK}]",
        "ASCII full stop after Chinese": rf"[{CJK}]\.$",
        "space inside Chinese": r"[\u4e00-\u9fff] +[\u4e00-\u9fff]",
        "space around a name": rf"[{CJK}] %\(({names})\)s|%\(({names})\)s [{CJK}]",
    }
    problems = [
        f"{msgid!r} → {text!r}: {rule}"
        for msgid, text in catalogue.items()
        for rule, pattern in rules.items()
        if msgid and re.search(pattern, text)
    ]
    assert not problems, "\n".join(problems)


def test_language_is_switched_by_a_button_not_on_change(client, db):
    """Choosing a language is an explicit act (WCAG 3.2.2): one button per other language,
    marked with that language, and no menu that submits itself."""
    text = client.get("/").content.decode()
    assert '<select name="language"' not in text
    assert re.search(r'<button type="submit" name="language" value="en"[^>]*lang="en"', text)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/track/"})
    assert response.status_code == 302
    english = client.get("/track/").content.decode()
    assert re.search(r'<button[^>]*value="zh-hans"[^>]*lang="zh-Hans"[^>]*>简体中文<', english)
