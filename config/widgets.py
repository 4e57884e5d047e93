"""Widgets written in Python: the same HTML as Django's own widgets, without drawing each
option or input through a template (pages that list hundreds of choices, or draw many
inputs on every request, spend most of their time there otherwise). Tests hold each one's
HTML equal to Django's."""

import html

from django import forms
from django.utils.functional import Promise
from django.utils.html import format_html, format_html_join
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
    bare name, ``False`` left out."""
    return format_html_join(
        "",
        "{}{}",
        (
            (format_html(" {}", name), "" if value is True else format_html('="{}"', str(value)))
            for name, value in attrs.items()
            if value is not False
        ),
    )


class _PlainInput:
    """An ``<input>`` written in Python, as Django's input template writes it (type, name,
    value, then the attributes): the queue's hidden fields and check boxes are on every
    queue page."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        shown = ""
        if widget["value"] is not None:
            shown = format_html(' value="{}"', str(widget["value"]))
        return format_html(
            '<input type="{}" name="{}"{}{}>',
            widget["type"],
            widget["name"],
            shown,
            _attributes(widget["attrs"]),
        )


class PlainHiddenInput(_PlainInput, forms.HiddenInput):
    pass


class PlainCheckboxInput(_PlainInput, forms.CheckboxInput):
    pass


class PlainSelect(forms.Select):
    """A ``<select>`` written in Python, options and groups as Django writes them. Django
    draws every option through a template of its own, which for a list of a hundred grids
    or communities costs more than the rest of the page. (Crispy forms names a widget's
    class in its CSS classes: ``CRISPY_CLASS_CONVERTERS`` gives this one Django's name.)"""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = set(self.format_value(value))
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
        for value_or_group, label in self.choices:
            if not isinstance(label, list | tuple):
                parts.append(option("" if value_or_group is None else value_or_group, label))
                continue
            inner = "".join(option(v, text) for v, text in label)
            if value_or_group:
                inner = f'<optgroup label="{plain_escape(value_or_group)}">{inner}</optgroup>'
            parts.append(inner)
        options = mark_safe("".join(parts))
        attrs = self.build_attrs(self.attrs, attrs)
        return format_html('<select name="{}"{}>{}</select>', name, _attributes(attrs), options)


def field_html(field: forms.BoundField) -> str:
    """A form field as crispy-forms' Bootstrap 5 pack draws it (label, with a star when
    required; the widget with its Bootstrap class, marked invalid and described by its
    errors and help; the errors; the help), written in Python: a filter panel drawn on
    every page of a kind costs a few milliseconds through crispy's templates."""
    widget = field.field.widget
    auto_id = field.auto_id
    errors = list(field.errors)
    described = [f"{auto_id}_helptext"] if field.help_text else []
    described += [f"{auto_id}_error"] if errors else []
    kind = "form-select" if isinstance(widget, forms.Select) else "form-control"
    attrs = {"class": f"{kind} is-invalid" if errors else kind}
    if errors:
        attrs["aria-invalid"] = "true"
    if described:
        attrs["aria-describedby"] = " ".join(described)
    required = field.field.required
    star = '<span class="asteriskField">*</span>' if required else ""
    parts = [
        f'<div id="div_{auto_id}" class="mb-3">',
        f'<label for="{auto_id}" class="form-label{" requiredField" if required else ""}">'
        f"{plain_escape(field.label)}{star}</label>",
        str(field.as_widget(attrs=attrs)),
    ]
    if errors:
        parts.append(f'<div id="{auto_id}_error" class="invalid-feedback">')
        parts += [
            f'<span id="error_{n}_{auto_id}"><strong>{plain_escape(error)}</strong></span>'
            for n, error in enumerate(errors, start=1)
        ]
        parts.append("</div>")
    if field.help_text:
        parts.append(
            f'<div id="{auto_id}_helptext" class="form-text">{plain_escape(field.help_text)}</div>'
        )
    parts.append("</div>")
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
