"""Form pieces shared by the resident and staff pages."""

from django import forms
from django.conf import settings
from django.utils.functional import lazy
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

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        # The page shrinks a photo larger than the server keeps before sending it
        # (static/js/site.js); the server checks and re-encodes it all the same.
        context["widget"]["attrs"]["data-max-side"] = settings.PHOTO_MAX_SIDE
        return context


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
