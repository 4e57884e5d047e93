"""Choice lists and settings that pages and actions read on every request, kept in Django's
cache (``CACHE_URL``) for ``CHOICES_SECONDS`` and dropped as soon as their rows change on
this host: the categories (names for the filters, rows for the filing forms) and their
extra questions, the return reasons, the communities (the building finder's), the grids a
person's posts cover, the configured deadlines (read by every filing and escalation), and
whether any API client takes webhooks (asked after every action); and the names of
categories, units and buildings a list of a thousand issues shows (``names_memo``, kept in
the process itself). On several hosts with a cache per process, another host's list
follows within ``CHOICES_SECONDS``; with a shared cache (Redis), at once. What is kept is
as the administrators wrote it (ids, names, questions): the same in every language."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save

from grids.models import Building, Community, Department, Grid, Post, Subdistrict

from . import permissions
from .models import ApiClient, Category, CategoryQuestion, ReturnReason, SlaPolicy

CHOICES_SECONDS = 60
CATEGORIES_KEY = "choices:categories:v1"
ACTIVE_CATEGORIES_KEY = "choices:active-categories:v1"
COMMUNITIES_KEY = "choices:communities:v1"
QUESTIONS_KEY = "choices:category-questions:v1"
WEBHOOKS_KEY = "choices:webhook-clients:v1"
SLA_KEY = "choices:sla-policies:v1"
RETURN_REASONS_KEY = "choices:return-reasons:v1"
GRIDS_VERSION_KEY = "choices:grids:version"
NAMES_VERSION_KEY = "choices:names:version"


def _kept(key: str, load):
    """The list under ``key``, loaded with ``load()`` when the cache has none."""
    found = cache.get(key)
    if found is None:
        found = load()
        cache.set(key, found, CHOICES_SECONDS)
    return found


def categories() -> list[tuple[int, str]]:
    """Every category as (id, name), in the order the admin set."""
    return _kept(
        CATEGORIES_KEY,
        lambda: list(Category.objects.order_by("sort_order", "name").values_list("pk", "name")),
    )


def active_categories() -> list[Category]:
    """The categories one may file under (``Category`` rows, in the admin's order): the
    filing forms list them and take the chosen one from here, the filing reads its default
    severity."""
    return _kept(ACTIVE_CATEGORIES_KEY, lambda: list(Category.objects.filter(is_active=True)))


def category_questions() -> list:
    """The extra questions of every active category (``CategoryQuestion``, each with its
    category), in their order: every filing form carries them all."""
    return _kept(
        QUESTIONS_KEY,
        lambda: list(
            CategoryQuestion.objects.filter(category__is_active=True).select_related("category")
        ),
    )


def communities() -> list[tuple[int, str]]:
    """Every community as (id, name), by subdistrict and code: the building finder's first
    list, on the report form and the sign-up page (a city has hundreds)."""
    return _kept(
        COMMUNITIES_KEY,
        lambda: list(
            Community.objects.order_by("subdistrict__code", "code").values_list("pk", "name")
        ),
    )


def grids_of(user) -> list[tuple[int, str]]:
    """The grids a person's posts cover as (id, "community · grid"), in code order; none
    listed for a single grid (there is nothing to choose)."""
    version = cache.get(GRIDS_VERSION_KEY, 0)
    key = f"choices:grids:{user.pk}:{version}"

    def load():
        grids = list(
            permissions.grids_in_scope(permissions.scope_of(user))
            .order_by("community__code", "code")
            .values_list("pk", "community__name", "name")
        )
        return [] if len(grids) < 2 else [(pk, f"{c} · {name}") for pk, c, name in grids]

    return _kept(key, load)


def sla_policies() -> list[tuple[str, str, str, int]]:
    """The deadlines the administrators configured, as (severity, level, unit, amount);
    ``workdays.SlaTable`` lays them over the defaults. A change made on another host
    applies there within ``CHOICES_SECONDS`` (with a cache per process), at once with a
    shared cache."""
    return _kept(
        SLA_KEY,
        lambda: list(SlaPolicy.objects.values_list("severity", "level", "unit", "amount")),
    )


def active_return_reasons() -> list[ReturnReason]:
    """The reasons a department may give for handing an issue back (退单), in the admin's
    order: the return form offers them on every issue page a department opens."""
    return _kept(RETURN_REASONS_KEY, lambda: list(ReturnReason.objects.filter(is_active=True)))


def any_webhook_client() -> bool:
    """Whether an active API client has a webhook URL (most cities: none, and then an
    action need not look for the clients its events concern). A client given one on
    another host is seen within ``CHOICES_SECONDS``; its deliveries follow a cursor, so
    the events of that minute go with the next turn."""
    return _kept(
        WEBHOOKS_KEY,
        lambda: ApiClient.objects.filter(is_active=True).exclude(webhook_url="").exists(),
    )


# The rows whose change drops each kept list (saved or deleted, on this host at once).
DROPPED_WHEN = {
    CATEGORIES_KEY: (Category,),
    ACTIVE_CATEGORIES_KEY: (Category,),
    QUESTIONS_KEY: (Category, CategoryQuestion),
    COMMUNITIES_KEY: (Community, Subdistrict),
    WEBHOOKS_KEY: (ApiClient,),
    SLA_KEY: (SlaPolicy,),
    RETURN_REASONS_KEY: (ReturnReason,),
}


def _dropper(key: str):
    def drop(**kwargs) -> None:
        cache.delete(key)

    return drop


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, None)


def _grids_changed(**kwargs) -> None:
    # Every person's list at once: a new version leaves the old entries to expire.
    _bump(GRIDS_VERSION_KEY)


# {(kind, id): what a list shows of it}, for this process; see names_memo.
_names: dict = {"version": None, "since": 0.0, "names": {}}


def names_memo() -> dict:
    """A dict this process keeps of the names (and the like) of categories, units and
    buildings, for pages that list a thousand issues: whoever reads it fills in what is
    missing. It starts empty ``CHOICES_SECONDS`` after it was started, and whenever one
    of those rows is saved or deleted (at once on this host; on the others when the cache
    is shared)."""
    version = cache.get(NAMES_VERSION_KEY, 0)
    now = time.monotonic()
    if _names["version"] != version or now - _names["since"] > CHOICES_SECONDS:
        _names.update(version=version, since=now, names={})
    return _names["names"]


def _names_changed(**kwargs) -> None:
    _bump(NAMES_VERSION_KEY)


for _signal in (post_save, post_delete):
    for _key, _models in DROPPED_WHEN.items():
        for _model in _models:
            _signal.connect(
                _dropper(_key),
                sender=_model,
                weak=False,  # the closure is referenced from here only
                dispatch_uid=f"choices-{_key}-{_model.__name__}-{_signal}",
            )
    for _model in (Grid, Community, Post):
        _signal.connect(
            _grids_changed, sender=_model, dispatch_uid=f"choices-{_model.__name__}-{_signal}"
        )
    for _model in (Category, Subdistrict, Community, Grid, Department, Building):
        _signal.connect(
            _names_changed, sender=_model, dispatch_uid=f"names-{_model.__name__}-{_signal}"
        )
