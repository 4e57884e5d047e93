"""Form pieces shared by the resident and staff pages."""

from django import forms
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
