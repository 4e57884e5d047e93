"""The shape of a piece of HTML, for holding HTML written in Python (config/widgets.py)
equal to what crispy-forms' templates write: its tags, their attributes (classes as a
set) and its text, in order, whatever the whitespace between them."""

from html.parser import HTMLParser


def crispy_type_classes(form) -> set[str]:
    """The classes crispy adds naming a widget's type ("textinput", "select"…): nothing
    styles them, and the HTML written in Python leaves them out."""
    from django.conf import settings

    converters = getattr(settings, "CRISPY_CLASS_CONVERTERS", {})
    names = {type(field.widget).__name__.lower() for field in form.fields.values()}
    return names | {converters.get(name, name) for name in names}


class Shape(HTMLParser):
    def __init__(self, html: str, ignored_classes=frozenset()):
        super().__init__()
        self.ignored = set(ignored_classes)
        self.found = []
        self.feed(str(html))
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "p" and attrs.get("id", "").startswith("error_"):
            # Crispy writes an error in a span or, drawing a field alone, a paragraph.
            tag = "span"
        if "class" in attrs:
            attrs["class"] = set(attrs["class"].split()) - self.ignored
        self.found.append((tag, attrs))

    def handle_endtag(self, tag):
        if tag == "p" and self.found and self.found[-1] == ("/", "strong"):
            tag = "span"  # the end of an error written in a paragraph
        self.found.append(("/", tag))

    def handle_data(self, data):
        if data.strip():
            self.found.append(("text", data.strip()))


def crispy_drawing(form) -> str:
    """The form as crispy's tag draws it without a <form> element (errors inline, as
    ``field_html`` writes them)."""
    from crispy_forms.helper import FormHelper
    from django.template import Context, Template

    helper = FormHelper()
    helper.form_tag = False
    return Template("{% load crispy_forms_tags %}{% crispy form helper %}").render(
        Context({"form": form, "helper": helper})
    )


def same_as_crispy(form) -> tuple[list, list]:
    """The shapes of the form written in Python and drawn by crispy, to compare. (Ours is
    written first: crispy adds its classes to the widgets as it draws them.)"""
    from config.widgets import form_html

    ignored = crispy_type_classes(form)
    ours = Shape(form_html(form), ignored).found
    theirs = Shape(crispy_drawing(form), ignored).found
    return ours, theirs


def forms_on(response) -> list:
    """The forms a page's templates were given."""
    from django import forms
    from django.test.utils import ContextList

    contexts = response.context
    contexts = contexts if isinstance(contexts, ContextList) else [contexts]
    found = {}
    for context in contexts:
        for value in context.flatten().values():
            if isinstance(value, forms.BaseForm):
                found[id(value)] = value
    return list(found.values())
