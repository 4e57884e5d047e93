"""Form pieces shared by the resident and staff pages."""

import html

from django import forms
from django.utils.functional import Promise, lazy
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..photos import MAX_PHOTOS, clean_photos


def _photos_help_text() -> str:
    return gettext("Up to %(max)d photos: JPEG, PNG or WebP, at most 10 MB each.") % {
        "max": MAX_PHOTOS
    }


# Lazy, so the text is formatted in the visitor's language each time a form is drawn (forms
# are declared at import, when formatting would freeze the default language's words).
photos_help_text = lazy(_photos_help_text, str)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to five photos; cleans to a list of ``CleanPhoto`` (decoded, re-encoded, no EXIF)."""

    widget = MultipleFileInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Photos"))
        kwargs.setdefault("help_text", photos_help_text())
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("accept", "image/jpeg,image/png,image/webp")

    def clean(self, data, initial=None):
        uploads = [f for f in (data or []) if f] if isinstance(data, list | tuple) else []
        if data and not isinstance(data, list | tuple):
            uploads = [data]
        if self.required and not uploads:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return clean_photos(uploads)


class PlaceForm(forms.Form):
    """The place of a report as a point (WGS-84), set by the map; the building list (or
    grid) stays the way to give the place without the map."""

    latitude = forms.FloatField(
        required=False, min_value=-90, max_value=90, widget=forms.HiddenInput
    )
    longitude = forms.FloatField(
        required=False, min_value=-180, max_value=180, widget=forms.HiddenInput
    )

    def clean(self):
        data = super().clean()
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise forms.ValidationError(
                _("The point on the map is incomplete: put the pin again."), code="bad_point"
            )
        return data

    def has_point(self) -> bool:
        return self.cleaned_data.get("latitude") is not None

    def require_place(self, *names: str) -> None:
        """One of the fields ``names`` or the point must give the place."""
        if not self.has_point() and not any(self.cleaned_data.get(n) for n in names):
            self.add_error(
                names[0],
                forms.ValidationError(
                    _("Put a pin on the map, or choose from this list."), code="no_place"
                ),
            )


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
    """A ``<select>`` of flat choices written in Python. Django draws every option through a
    template of its own, which for a list of a hundred grids costs more than the rest of a
    queue page; this writes the same HTML directly (grouped choices: Django's way)."""

    def render(self, name, value, attrs=None, renderer=None):
        choices = list(self.choices)
        if any(isinstance(label, list | tuple) for _value, label in choices):
            return super().render(name, value, attrs, renderer)
        chosen = set(self.format_value(value))
        # A grid list has hundreds of options: each is written with plain_escape, not
        # format_html, whose lazy-text checks cost more than the option.
        options = mark_safe(
            "".join(
                f'<option value="{plain_escape(option)}"'
                f"{' selected' if str(option) in chosen else ''}>"
                f"{plain_escape(label)}</option>"
                for option, label in choices
            )
        )
        attrs = self.build_attrs(self.attrs, attrs)
        return format_html('<select name="{}"{}>{}</select>', name, _attributes(attrs), options)
