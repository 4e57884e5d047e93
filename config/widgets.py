"""Widgets written in Python: the same HTML as Django's own widgets, without drawing each
option or input through a template (pages that list hundreds of choices, or draw many
inputs on every request, spend most of their time there otherwise). Tests hold each one's
HTML equal to Django's."""

import html

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field
from django import forms
from django.forms.widgets import Input
from django.utils.functional import Promise
from django.utils.safestring import mark_safe


def plain_escape(value) -> str:
    """Django's conditional_escape for the hot paths that write many small pieces of HTML:
    text marked safe as it is, anything else (lazy text included) escaped as Django's
    escape() does, without the lazy-argument checks each call of it makes."""
    if isinstance(value, Promise):
        value = str(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def _attributes(attrs: dict) -> str:
    """HTML attributes as Django's widget template writes them: in order, ``True`` as the
    bare name, ``False`` left out, each escaped unless marked safe."""
    return "".join(
        f" {plain_escape(name)}"
        if value is True
        else f' {plain_escape(name)}="{plain_escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


# --- widgets ---------------------------------------------------------------------------------

# Django's templates for the widgets written here. A widget drawn through another template
# (a custom one, a multiple select, a widget made of widgets) is left to Django.
INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in (
        "input",
        "text",
        "number",
        "email",
        "url",
        "password",
        "search",
        "tel",
        "color",
        "date",
        "datetime",
        "time",
        "hidden",
        "checkbox",
    )
)
TEXTAREA_TEMPLATE = "django/forms/widgets/textarea.html"
SELECT_TEMPLATE = "django/forms/widgets/select.html"


def input_html(widget: Input, name, value, attrs=None) -> str:
    """An ``<input>`` as Django's input template writes it: type, name, value, then the
    attributes (a check box's ``checked`` among them)."""
    drawn = widget.get_context(name, value, attrs)["widget"]
    shown = ""
    if drawn["value"] is not None:
        shown = f' value="{plain_escape(drawn["value"])}"'
    return mark_safe(
        f'<input type="{plain_escape(drawn["type"])}" name="{plain_escape(drawn["name"])}"'
        f"{shown}{_attributes(drawn['attrs'])}>"
    )


def textarea_html(widget: forms.Textarea, name, value, attrs=None) -> str:
    """A ``<textarea>`` as Django's template writes it (a new line, then the text)."""
    drawn = widget.get_context(name, value, attrs)["widget"]
    text = plain_escape(drawn["value"]) if drawn["value"] else ""
    return mark_safe(
        f'<textarea name="{plain_escape(drawn["name"])}"{_attributes(drawn["attrs"])}>\n'
        f"{text}</textarea>"
    )


def select_html(widget: forms.Select, name, value, attrs=None) -> str:
    """A single ``<select>``, options and groups as Django writes them, without drawing
    each option through a template of its own (which, for a list of a hundred grids or
    communities, costs more than the rest of the page)."""
    chosen = set(widget.format_value(value))
    found = [False]  # a single select marks the first matching option only, as Django

    def option(value, label) -> str:
        selected = not found[0] and str(value) in chosen
        found[0] = found[0] or selected
        # Each is written with plain_escape, not format_html, whose lazy-text checks
        # cost more than the option.
        return (
            f'<option value="{plain_escape(value)}"{" selected" if selected else ""}>'
            f"{plain_escape(label)}</option>"
        )

    parts = []
    for value_or_group, label in widget.choices:
        if not isinstance(label, list | tuple):
            parts.append(option("" if value_or_group is None else value_or_group, label))
            continue
        inner = "".join(option(v, text) for v, text in label)
        if value_or_group:
            inner = f'<optgroup label="{plain_escape(value_or_group)}">{inner}</optgroup>'
        parts.append(inner)
    attributes = _attributes(widget.build_attrs(widget.attrs, attrs))
    return mark_safe(f'<select name="{plain_escape(name)}"{attributes}>{"".join(parts)}</select>')


def writer(widget: forms.Widget):
    """The function above that writes this widget as Django's template would, or None."""
    template = widget.template_name
    if template in INPUT_TEMPLATES and isinstance(widget, Input | forms.CheckboxInput):
        return input_html
    if template == TEXTAREA_TEMPLATE and isinstance(widget, forms.Textarea):
        return textarea_html
    if (
        template == SELECT_TEMPLATE
        and isinstance(widget, forms.Select)
        and not widget.allow_multiple_selected
    ):
        return select_html
    return None


class PlainHiddenInput(forms.HiddenInput):
    """A hidden input written in Python (the queue's filters carry several)."""

    def render(self, name, value, attrs=None, renderer=None):
        return input_html(self, name, value, attrs)


class PlainCheckboxInput(forms.CheckboxInput):
    """A check box written in Python (the queue's filters carry two)."""

    def render(self, name, value, attrs=None, renderer=None):
        return input_html(self, name, value, attrs)


class PlainSelect(forms.Select):
    """A select written in Python (``select_html``). (Crispy forms names a widget's class
    in its CSS classes: ``CRISPY_CLASS_CONVERTERS`` gives this one Django's name.)"""

    def render(self, name, value, attrs=None, renderer=None):
        return select_html(self, name, value, attrs)


# --- fields and forms as crispy-forms' Bootstrap 5 pack draws them -------------------------


def _widget(field: forms.BoundField, attrs: dict, write) -> str:
    """The field's widget written by ``write``, with the attributes ``BoundField.as_widget``
    gives it (required, disabled, aria-invalid, aria-describedby, the id)."""
    widget = field.field.widget
    attrs = field.build_widget_attrs(attrs, widget)
    if field.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", field.auto_id)
    return write(widget, field.html_name, field.value(), attrs)


def _classes(widget, *bootstrap: str) -> str:
    """The widget's own classes followed by Bootstrap's."""
    own = widget.attrs.get("class", "").split()
    return " ".join([*own, *(c for c in bootstrap if c not in own)])


def _label(field, tag="label") -> str:
    required = field.field.required
    star = '<span class="asteriskField">*</span>' if required else ""
    target = f' for="{field.id_for_label}"' if tag == "label" and field.id_for_label else ""
    extra = " fs-6" if tag == "legend" else ""
    return (
        f'<{tag}{target} class="form-label{" requiredField" if required else ""}{extra}">'
        f"{plain_escape(field.label)}{star}</{tag}>"
    )


def _errors(field, errors, tag="span") -> str:
    """The field's errors, each with the id its widget's aria-describedby names (crispy
    writes them in spans, but in paragraphs under a list of options)."""
    if not errors:
        return ""
    auto_id = field.auto_id
    return (
        f'<div id="{auto_id}_error" class="invalid-feedback">'
        + "".join(
            f'<{tag} id="error_{n}_{auto_id}"><strong>{plain_escape(error)}</strong></{tag}>'
            for n, error in enumerate(errors, start=1)
        )
        + "</div>"
    )


def _help(field) -> str:
    if not field.help_text:
        return ""
    # Help text is HTML, as Django and crispy take it (written by developers and admins).
    text = str(field.help_text)
    return f'<div id="{field.auto_id}_helptext" class="form-text">{text}</div>'


def _choices_html(field, errors) -> str:
    """Radio buttons or check boxes: a fieldset whose legend is the label, one form-check
    per option, the errors after the last option and the help at the end."""
    widget = field.field.widget
    described = field.aria_describedby
    attrs = field.build_widget_attrs({"id": field.auto_id} if field.auto_id else {})
    groups = widget.optgroups(field.html_name, widget.format_value(field.value()), attrs)
    options = [option for _group, group_options, _index in groups for option in group_options]
    invalid = " is-invalid" if errors else ""
    parts = [
        f'<div id="div_{field.auto_id}" class="mb-3">',
        f'<fieldset aria-describedby="{described}">' if described else "<fieldset>",
        _label(field, "legend"),
        "<div>",
    ]
    for group, group_options, _index in groups:
        if group:
            parts.append(f"<strong>{plain_escape(group)}</strong>")
        for option in group_options:
            option_attrs = _attributes(option["attrs"])
            parts.append(
                f'<div class="form-check"><input type="{option["type"]}" '
                f'class="form-check-input{invalid}" name="{plain_escape(field.html_name)}" '
                f'value="{plain_escape(option["value"])}"{option_attrs}>'
                f'<label for="{plain_escape(option["attrs"].get("id", ""))}" '
                f'class="form-check-label">{plain_escape(option["label"])}</label>'
            )
            if option is options[-1]:
                parts.append(_errors(field, errors, tag="p"))
            parts.append("</div>")
    parts += ["</div>", _help(field), "</fieldset>", "</div>"]
    return "".join(parts)


def _checkbox_html(field, errors) -> str:
    """One check box: the box, then its label, inside a form-check."""
    widget = field.field.widget
    classes = _classes(widget, "form-check-input", *(["is-invalid"] if errors else []))
    required = field.field.required
    star = '<span class="asteriskField">*</span>' if required else ""
    return (
        f'<div class="mb-3"><div id="div_{field.auto_id}" class="form-check">'
        + _widget(field, {"class": classes}, input_html)
        + f'<label for="{field.id_for_label}" class="form-check-label'
        f'{" requiredField" if required else ""}">{plain_escape(field.label)}{star}</label>'
        + _errors(field, errors)
        + _help(field)
        + "</div></div>"
    )


def _file_html(field, errors) -> str:
    """A file input (no file chosen before: the forms here never show one), wrapped with
    its errors and help as crispy wraps it."""
    widget = field.field.widget
    attrs = field.build_widget_attrs({"id": field.auto_id} if field.auto_id else {})
    drawn = widget.get_context(field.html_name, None, attrs)["widget"]
    classes = _classes(widget, "form-control", *(["is-invalid"] if errors else []))
    others = {k: v for k, v in drawn["attrs"].items() if k != "class"}
    return (
        f'<div id="div_{field.auto_id}" class="mb-3">'
        + (_label(field) if field.label else "")
        + ('<div class="is-invalid">' if errors else "<div>")
        + f'<input type="{drawn["type"]}" name="{plain_escape(drawn["name"])}" '
        f'class="{classes}"{_attributes(others)}>'
        + _errors(field, errors)
        + _help(field)
        + "</div></div>"
    )


def field_html(field: forms.BoundField) -> str:
    """A form field as crispy-forms' Bootstrap 5 pack draws it (label, with a star when
    required; the widget with its Bootstrap class, marked invalid and described by its
    errors and help; the errors; the help), written in Python: crispy's templates cost a
    few milliseconds per form, and the staff issue page draws a form for every action
    (tests hold the two the same, form by form). A widget not written here is drawn by
    crispy itself."""
    widget = field.field.widget
    if widget.is_hidden:
        write = writer(widget)
        return mark_safe(_widget(field, {}, write) if write else str(field))
    errors = list(field.errors)
    if isinstance(widget, forms.RadioSelect) and widget.template_name in {
        "django/forms/widgets/radio.html",
        "django/forms/widgets/checkbox_select.html",
    }:
        return mark_safe(_choices_html(field, errors))
    if type(widget) in (forms.CheckboxInput, PlainCheckboxInput):
        return mark_safe(_checkbox_html(field, errors))
    if isinstance(widget, forms.FileInput) and not field.initial:
        return mark_safe(_file_html(field, errors))
    write = writer(widget)
    if write is None or isinstance(widget, forms.CheckboxInput):
        return as_crispy_field(field)
    kind = "form-select" if isinstance(widget, forms.Select) else "form-control"
    attrs = {"class": _classes(widget, kind, *(["is-invalid"] if errors else []))}
    return mark_safe(
        f'<div id="div_{field.auto_id}" class="mb-3">'
        + (_label(field) if field.label else "")
        + _widget(field, attrs, write)
        + _errors(field, errors)
        + _help(field)
        + "</div>"
    )


def form_html(form: forms.Form) -> str:
    """A whole form as crispy's ``|crispy`` filter draws it: the errors that concern no
    one field in an alert, then every field in order (hidden ones as bare inputs)."""
    parts = []
    if form.non_field_errors():
        items = "".join(f"<li>{plain_escape(error)}</li>" for error in form.non_field_errors())
        parts.append(
            f'<div class="alert alert-block alert-danger"><ul class="m-0">{items}</ul></div>'
        )
    parts += [field_html(field) for field in form]
    return mark_safe("".join(parts))


# --- model choices -------------------------------------------------------------------------


class ListedModelChoices(forms.models.ModelChoiceIterator):
    """A model choice field's choices, read with one plain query. Django's own iterator
    reads them through ``QuerySet.iterator()``, which on PostgreSQL opens a server-side
    cursor (DECLARE, FETCH and CLOSE: three round trips) for lists of a few rows; the
    staff issue page has three such lists of departments."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        # A fresh copy each time, as Django's: the field's queryset keeps no results.
        for obj in self.queryset.all():
            yield self.choice(obj)


class ModelChoiceField(forms.ModelChoiceField):
    """``forms.ModelChoiceField`` with its choices read in one query."""

    iterator = ListedModelChoices


class ModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """``forms.ModelMultipleChoiceField`` with its choices read in one query."""

    iterator = ListedModelChoices


class KeptModelChoices(ListedModelChoices):
    """A ``KeptModelChoiceField``'s choices: its rows, as they are kept."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.field.rows():
            yield self.choice(obj)

    def __len__(self):
        return len(self.field.rows()) + (self.field.empty_label is not None)


class KeptModelChoiceField(forms.ModelChoiceField):
    """A model choice field over rows kept in the cache (``rows()`` returns them, e.g.
    ``issues.choices.active_categories``): drawing it and taking the chosen row cost no
    query. A value that is not among the rows is refused as Django refuses it."""

    iterator = KeptModelChoices

    def __init__(self, rows, **kwargs):
        self.rows = rows
        super().__init__(queryset=None, **kwargs)

    def __deepcopy__(self, memo):
        # Each form's copy draws its own rows (a form may set ``rows`` for itself), as
        # Django gives each copy of a queryset's field a fresh iterator.
        result = super().__deepcopy__(memo)
        result.widget.choices = result.choices
        return result

    def to_python(self, value):
        if value in self.empty_values:
            return None
        for obj in self.rows():
            if str(obj.pk) == str(value):
                return obj
        raise forms.ValidationError(
            self.error_messages["invalid_choice"],
            code="invalid_choice",
            params={"value": value},
        )
