"""The main navigation's links, drawn once per process for each set of things they show.

``_nav_items.html`` depends only on the language, the page's URL name, whether the person
is signed in, the staff flags of ``issues.context_processors.navigation`` and whether they
have unread notifications (and the badge's text). Drawing it through the template language
cost every signed-in page about half of its empty layout, some twenty links each with its
``{% url %}`` and ``{% translate %}``. ``{% nav_items %}`` draws it once per such set and
keeps the text; the badge's number is put into the kept text, so that a person's unread
count does not make a set of its own.

The kept texts hold no one's data: the links of a role and a page, in a language. The
template is drawn from the key alone (stand-ins for the person and the request that carry
nothing else), so a link added to it that showed something of a person would show nothing
rather than one person's data to another. At most ``KEPT`` are kept per process, the least
recently used dropped first.
"""

from collections import OrderedDict
from threading import Lock
from types import SimpleNamespace

from django import template
from django.core.signals import setting_changed
from django.template.loader import get_template
from django.urls import get_script_prefix, get_urlconf
from django.utils import translation
from django.utils.safestring import mark_safe

register = template.Library()

TEMPLATE = "_nav_items.html"
# Where the badge's text goes in a kept text: a mark no URL, name or translation contains.
BADGE = "\ue000unread\ue000"
KEPT = 512

_kept: OrderedDict = OrderedDict()
_lock = Lock()


def _flags(context) -> tuple:
    """What the links show, in the order the template asks for it: the staff flags are
    asked only of staff (for anyone else the template does not look at them)."""
    user = context.get("user")
    signed_in = bool(user is not None and user.is_authenticated)
    staff = signed_in and bool(context.get("is_grid_staff"))
    return (
        signed_in,
        staff,
        staff and bool(context.get("staff_patrols")),
        staff and bool(context.get("keeps_participants")),
        staff and bool(context.get("staff_takes_calls")),
        signed_in and bool(context.get("unread_notifications")),
    )


def _forget(**kwargs):
    """Settings changed (in tests): the URLs or the languages may differ."""
    with _lock:
        _kept.clear()


setting_changed.connect(_forget)


@register.simple_tag(takes_context=True)
def nav_items(context):
    """The navigation's links for this page and person (``_nav_items.html``)."""
    match = getattr(context.get("request"), "resolver_match", None)
    url_name = match.url_name if match is not None else None
    flags = _flags(context)
    key = (translation.get_language(), get_script_prefix(), get_urlconf(), url_name, flags)
    with _lock:
        text = _kept.get(key)
        if text is not None:
            _kept.move_to_end(key)
    if text is None:
        signed_in, staff, patrols, participants, calls, unread = flags
        text = get_template(TEMPLATE).render(
            {
                "request": SimpleNamespace(resolver_match=SimpleNamespace(url_name=url_name)),
                "user": SimpleNamespace(is_authenticated=signed_in),
                "is_grid_staff": staff,
                "staff_patrols": patrols,
                "keeps_participants": participants,
                "staff_takes_calls": calls,
                "unread_notifications": unread,
                "unread_badge": BADGE,
            }
        )
        with _lock:
            _kept[key] = text
            while len(_kept) > KEPT:
                _kept.popitem(last=False)
    if BADGE in text:
        # The badge's text is the count's digits (or "99+"): nothing to escape.
        text = text.replace(BADGE, str(context.get("unread_badge") or ""))
    return mark_safe(text)
