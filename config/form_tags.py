"""Template tags drawing forms (``{% load form_tags %}``): a field or a whole form as
crispy-forms' Bootstrap 5 pack draws it, written in Python (``config.widgets``). Every page
draws its forms with these; crispy stays for the widgets not written there and, in the
tests, as the measure of what these write."""

from django import template

from config.widgets import field_html, form_html

register = template.Library()


@register.simple_tag
def plain_field(field):
    """One field: label, widget, errors and help."""
    return field_html(field)


@register.simple_tag
def plain_form(form):
    """A whole form: the errors of no one field, then every field in order."""
    return form_html(form)
