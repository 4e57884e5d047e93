"""Widgets written in Python (config/widgets.py): the HTML Django's own widgets write."""


def test_plain_select_draws_what_django_select_draws():
    """The filter bar's select: the same options, selection and escaping as Django's."""
    from html.parser import HTMLParser

    from django import forms

    from config.widgets import PlainSelect

    class Options(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found, self.select = [], None

        group = None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "select":
                self.select = attrs
            elif tag == "optgroup":
                self.group = attrs.get("label")
            elif tag == "option":
                self.found.append([attrs.get("value"), "selected" in attrs, "", self.group])

        def handle_endtag(self, tag):
            if tag == "optgroup":
                self.group = None

        def handle_data(self, data):
            if self.found:
                self.found[-1][2] += data

    def parsed(widget, value):
        parser = Options()
        parser.feed(widget.render("grid", value, attrs={"id": "id_grid"}))
        return parser.select, [[v, on, text.strip(), group] for v, on, text, group in parser.found]

    flat = [("", "Any grid"), (7, "第一网格"), (8, '<b>"A&B"</b>')]
    grouped = [
        ("", "Choose the building"),
        ("全运村社区 · 第一网格", [(1, "1号楼"), (2, "2号楼")]),
        ('<i>"社区"</i>', [(3, "3 & 4号楼"), (None, "none")]),
        ("", [(5, "no group")]),
        (8, "after the groups"),
        (8, "the same value again"),
    ]
    for choices in (flat, grouped):
        for value in ("", 8, "8", 3, None, "nope"):
            plain = parsed(PlainSelect(attrs={"class": "form-select"}, choices=choices), value)
            django = parsed(forms.Select(attrs={"class": "form-select"}, choices=choices), value)
            assert plain == django, (choices, value)
    assert parsed(PlainSelect(choices=flat), 8)[1][2] == ["8", True, '<b>"A&B"</b>', None]
    third = parsed(PlainSelect(choices=grouped), 3)[1][3]
    assert third == ["3", True, "3 & 4号楼", '<i>"社区"</i>']


def test_plain_inputs_draw_what_django_inputs_draw():
    """The filter bar's hidden fields and check boxes: Django's HTML, escaping included."""
    from django import forms

    from config.widgets import PlainCheckboxInput, PlainHiddenInput

    cases = [
        (PlainHiddenInput(), forms.HiddenInput(), ["", None, "mine", 'a"<b>&', 12]),
        (
            PlainCheckboxInput(attrs={"class": "form-check-input"}),
            forms.CheckboxInput(attrs={"class": "form-check-input"}),
            [None, False, True, "on", ""],
        ),
    ]
    for plain, django, values in cases:
        for value in values:
            attrs = {"id": "id_f", "aria-describedby": "help"}
            assert plain.render("f", value, attrs=attrs) == django.render("f", value, attrs=attrs)


def test_plain_escape_is_conditional_escape():
    from django.utils.functional import lazystr
    from django.utils.html import conditional_escape
    from django.utils.safestring import mark_safe
    from django.utils.translation import gettext_lazy

    from config.widgets import plain_escape

    for value in ["<b>\"A&B'</b>", mark_safe("<b>ok</b>"), gettext_lazy("Any grid"), 12, None]:
        assert plain_escape(value) == str(conditional_escape(value))
    lazy_safe = mark_safe(lazystr("<i>kept</i>"))
    assert plain_escape(lazy_safe) == str(conditional_escape(lazy_safe)) == "<i>kept</i>"


def test_a_field_drawn_in_python_is_what_crispy_draws():
    """The dashboard's filter panel: each field's label, widget, errors and help, and how
    they refer to each other (ids, aria-invalid, aria-describedby), as crispy-forms'
    Bootstrap 5 pack draws them, valid or not (its extra widget-type classes aside)."""
    from html.parser import HTMLParser

    from crispy_forms.helper import FormHelper
    from crispy_forms.layout import Layout
    from django.http import QueryDict
    from django.template import Context, Template

    from config.widgets import field_html
    from issues.forms.dashboard import DashboardFilterForm

    crispy_only = {"dateinput", "numberinput", "select"}

    class Shape(HTMLParser):
        def __init__(self, html):
            super().__init__()
            self.found = []
            self.feed(html)

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if "class" in attrs:
                attrs["class"] = set(attrs["class"].split()) - crispy_only
            self.found.append((tag, attrs))

        def handle_endtag(self, tag):
            self.found.append(("/", tag))

        def handle_data(self, data):
            if data.strip():
                self.found.append(("text", data.strip()))

    crispy = Template("{% load crispy_forms_tags %}{% crispy form helper %}")
    queries = [
        "",
        "start=2026-13-01&end=2026-01-01&severity=bad&recurrence_count=1&category=x",
        "start=2026-03-01&end=2026-03-31&category=2&severity=minor&source=api",
    ]
    for query in queries:
        form = DashboardFilterForm(QueryDict(query), categories=[(1, "路灯"), (2, 'a"<b>&')])
        form.is_valid()
        fields = [field for row in form.rows() for field, _columns in row]
        # As the panel was drawn through crispy: its fields in a helper's layout.
        helper = FormHelper()
        helper.form_tag = False
        helper.layout = Layout(*(field.name for field in fields))
        ours = Shape("".join(field_html(field) for field in fields)).found
        theirs = Shape(crispy.render(Context({"form": form, "helper": helper}))).found
        assert ours == theirs, query
        assert bool(form.errors) == (query == queries[1])
