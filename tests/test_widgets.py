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
    """The dashboards' filter panel (staff and public): each field's label, widget, errors
    and help, and how they refer to each other (ids, aria-invalid, aria-describedby), as
    crispy-forms' Bootstrap 5 pack draws them, valid or not (its extra widget-type classes
    aside)."""
    from crispy_forms.helper import FormHelper
    from crispy_forms.layout import Layout
    from django.http import QueryDict
    from django.template import Context, Template

    from config.widgets import field_html
    from issues.forms.dashboard import DashboardFilterForm, PublicFilterForm
    from tests.html_shape import Shape, crispy_type_classes

    crispy = Template("{% load crispy_forms_tags %}{% crispy form helper %}")
    queries = [
        "",
        "start=2026-13-01&end=2026-01-01&severity=bad&recurrence_count=1&category=x",
        "start=2026-03-01&end=2026-03-31&category=2&severity=minor&source=api",
    ]
    forms = [
        DashboardFilterForm(QueryDict(query), categories=[(1, "路灯"), (2, 'a"<b>&')])
        for query in queries
    ] + [
        PublicFilterForm(QueryDict(query), subdistricts=subdistricts)
        for query in ("", "subdistrict=9&period=7", "subdistrict=2&period=365")
        for subdistricts in ([(1, "东街道")], [(1, "东街道"), (2, 'a"<b>&')])
    ]
    for number, form in enumerate(forms):
        form.is_valid()
        fields = [field for row in form.rows() for field, _columns in row]
        # As the panel was drawn through crispy: its fields in a helper's layout.
        helper = FormHelper()
        helper.form_tag = False
        helper.layout = Layout(*(field.name for field in fields))
        ignored = crispy_type_classes(form)
        ours = Shape("".join(field_html(field) for field in fields), ignored).found
        theirs = Shape(crispy.render(Context({"form": form, "helper": helper})), ignored).found
        assert ours == theirs, (type(form).__name__, form.data)
        if number < len(queries):
            assert bool(form.errors) == (number == 1)
        else:  # a subdistrict not offered, or a period not among the choices
            offered = {str(pk) for pk, _name in form.fields["subdistrict"].choices}
            wrong = str(form.data["subdistrict"]) not in offered or form.data["period"] == "7"
            assert bool(form.errors) == wrong, form.data


def _every_kind_of_field():
    """A form with one field of each kind the pages draw."""
    from django import forms

    from issues.forms.fields import PhotosField

    class EveryKind(forms.Form):
        token = forms.CharField(widget=forms.HiddenInput, required=False)
        title = forms.CharField(max_length=20, help_text="Short & <em>plain</em>")
        number = forms.IntegerField(min_value=1, required=False)
        day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), required=False)
        mail = forms.EmailField(required=False)
        secret = forms.CharField(widget=forms.PasswordInput, required=False)
        text = forms.CharField(
            widget=forms.Textarea(attrs={"rows": 2, "class": "font-monospace"}), required=False
        )
        kind = forms.ChoiceField(choices=[("", "—"), ("a", "路灯"), ("b", 'a"<b>&')])
        grouped = forms.ChoiceField(
            choices=[("", "—"), ("社区", [("1", "1号楼"), ("2", "2号楼")])], required=False
        )
        answer = forms.ChoiceField(
            widget=forms.RadioSelect, choices=[("yes", "满意"), ("no", "不满意")], help_text="Pick"
        )
        units = forms.MultipleChoiceField(
            widget=forms.CheckboxSelectMultiple, choices=[("1", "城管"), ("2", "环卫")]
        )
        agree = forms.BooleanField(help_text="Tick it")
        maybe = forms.BooleanField(required=False)
        photos = PhotosField()

        def clean(self):
            if self.data.get("title") == "both":
                raise forms.ValidationError("Not both <at once>.")

    return EveryKind


def test_a_form_drawn_in_python_is_what_crispy_draws():
    """Every kind of field, empty, wrong and right: the same tags, attributes and words as
    crispy's Bootstrap 5 pack (the errors that concern no one field included)."""
    from django.http import QueryDict

    EveryKind = _every_kind_of_field()
    datas = [
        None,
        QueryDict(""),
        QueryDict("title=both&number=0&day=2026-02-30&mail=x&kind=z&answer=maybe&units=9"),
        QueryDict(
            "token=t1&title=灯<b>&number=3&day=2026-02-03&mail=a@b.cn&secret=s&text=两行%0A文字"
            "&kind=b&grouped=2&answer=no&units=1&units=2&agree=on"
        ),
    ]
    for data in datas:
        form = EveryKind(data)
        if data is not None:
            form.is_valid()
        from tests.html_shape import same_as_crispy

        ours, theirs = same_as_crispy(form)
        assert ours == theirs, data
    assert form.is_valid()


def test_widgets_written_in_python_are_what_django_writes():
    """Inputs and text areas exactly as Django's templates write them, escaping and
    formatting included; each kind is written here (``writer`` finds it)."""
    from datetime import date

    from django import forms

    from config.widgets import input_html, textarea_html, writer

    cases = [
        (forms.TextInput(attrs={"maxlength": 20}), ["", None, 'a"<b>&', 12]),
        (forms.NumberInput(attrs={"min": 1}), [None, 3, "3"]),
        (forms.DateInput(attrs={"type": "date"}), [None, date(2026, 2, 3), "2026-02-30"]),
        (forms.EmailInput(), ["a@b.cn"]),
        (forms.PasswordInput(), ["secret"]),
        (forms.PasswordInput(render_value=True), ["secret"]),
        (forms.HiddenInput(), ["t1", None]),
        (forms.CheckboxInput(attrs={"class": "form-check-input"}), [True, False, None, "on"]),
        (forms.Textarea(attrs={"rows": 2}), ["", None, "两行\n文字 <b>&", 7]),
    ]
    for widget, values in cases:
        write = writer(widget)
        assert write is (textarea_html if isinstance(widget, forms.Textarea) else input_html)
        for value in values:
            attrs = {"id": "id_f", "aria-describedby": "id_f_helptext", "required": True}
            assert str(write(widget, "f", value, attrs)) == widget.render("f", value, attrs), (
                widget,
                value,
            )
    # What is not written here is left to Django (and crispy).
    assert writer(forms.SelectMultiple()) is None
    assert writer(forms.ClearableFileInput()) is None


def test_every_page_draws_its_forms_as_crispy_draws_them(client, territory, people):
    """Every page that draws a form with ``plain_form`` or ``plain_field``, as it is first
    shown and again with the errors of an empty or wrong submission: each form the page
    was given, as crispy's Bootstrap 5 pack draws it."""
    from django.urls import reverse

    from issues import workflow
    from issues.models import Source, Status
    from tests.factories import ResidentFactory, issue_at
    from tests.html_shape import forms_on, same_as_crispy

    t, p = territory, people
    resolved = issue_at(t, status=Status.RESOLVED, reporter=p.resident, resolved_by=p.worker)
    mine = issue_at(t, status=Status.IN_PROGRESS, reporter=p.resident)
    volunteer = ResidentFactory(username="helper", is_volunteer=True, home_building__grid=t.grid)
    opened = workflow.open_to_volunteers(
        issue=issue_at(t, status=Status.IN_PROGRESS, source=Source.PATROL), actor=p.worker
    )
    anonymous = [
        ("login", {"username": "", "password": "x"}),
        ("signup", {"phone": "12", "password1": "a", "password2": "b"}),
        ("password_reset", {"email": "not an address"}),
        ("track", {"tracking_number": "<b>?</b>", "phone": "x"}),
    ]
    signed_in = [
        (p.resident, "profile", (), {"phone": "1"}),
        (p.resident, "password_change", (), {"old_password": "x"}),
        (p.resident, "issue_report", (), {"title": ""}),
        (p.resident, "my_issue_detail", (resolved.tracking_number,), None),
        (p.resident, "my_issue_detail", (mine.tracking_number,), None),
        (p.resident, "participate_register", (), {}),
        (p.worker, "staff_patrol", (), {"settled": "on"}),
        (p.community_staff, "staff_hotline", (), {"caller_phone": "x"}),
        (volunteer, "participate_issue", (opened.tracking_number,), None),
    ]
    pages = [(None, name, (), data) for name, data in anonymous] + signed_in
    drawn = set()
    for user, name, args, data in pages:
        client.logout()
        if user is not None:
            client.force_login(user)
        url = reverse(name, args=args)
        responses = [client.get(url)]
        if data is not None:
            responses.append(client.post(url, data))
        for response in responses:
            assert response.status_code == 200, (name, response.status_code)
            given = forms_on(response)
            assert given, name
            for form in given:
                ours, theirs = same_as_crispy(form)
                assert ours == theirs, (
                    name,
                    type(form).__name__,
                    response.request["REQUEST_METHOD"],
                )
                drawn.add(type(form).__name__)
    assert len(drawn) >= 12, drawn
