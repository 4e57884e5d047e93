"""Who is signed in, read from the cache instead of the database on every request.

Every signed-in page needs the person (one query) and their posts (one more: what they see
and act on, ``issues.permissions.scope_of``). Both change rarely: when an administrator
edits the person or their posts, or the person changes their password. So the backend
keeps the two together in the cache for ``SIGNED_IN_CACHE_SECONDS`` and forgets them
whenever a person or one of their posts is saved or deleted (``forget``, connected in
``grids.apps``), at once and again when the change commits.

Only a cache every app host shares (``CACHE_URL``: Redis, Memcached or the database) can
do this: a per-process cache would forget the copy only in the process that made the
change, and another would go on signing the person in as they were. So the setting is 0
(off) unless the cache is shared (config/settings.py), and the session store follows the
same rule (``cached_db`` on a shared cache, the database otherwise).

Django still checks everything it checks on a cached person: that the account may sign in
and that the session was made with the current password. A change made around the model
(``QuerySet.update``, raw SQL) sends no signal; the copy then lives until it expires.

Without a shared cache the person is read from the database on every signed-in request, by
SQL compiled once (``config.compiled``): writing the lookup afresh each time cost about
as much as running it.
"""

from __future__ import annotations

import zlib
from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache as shared_cache
from django.db import transaction

from config.compiled import CompiledLookup


@cache
def _shape() -> str:
    """What a cached copy was made of (the person's fields), so that a copy made before a
    deployment that changed them is never read back."""
    fields = ",".join(f.attname for f in get_user_model()._meta.concrete_fields)
    return format(zlib.crc32(fields.encode()), "x")  # the same in every process


def cache_key(user_id) -> str:
    return f"signed-in:{_shape()}:{user_id}"


# The person of a session, by primary key: the lookup Django's backend makes, compiled once.
_person = CompiledLookup(get_user_model(), lambda: get_user_model()._default_manager.all())


class CachedModelBackend(ModelBackend):
    """Django's own backend (username or mobile number and password), whose ``get_user``
    reads the person and their posts from the shared cache when it can."""

    def get_user(self, user_id):
        seconds = settings.SIGNED_IN_CACHE_SECONDS
        if not seconds:
            return self._read_user(user_id)
        key = cache_key(user_id)
        user = shared_cache.get(key)
        if user is None:
            user = self._read_user(user_id)
            if user is None:
                return None
            # Imported here: the rule book (issues) builds on the territory (grids).
            from issues.permissions import scope_of

            scope_of(user)  # the posts, remembered on the object, cached with it
            shared_cache.set(key, user, seconds)
        return user

    def _read_user(self, user_id):
        """What ``ModelBackend.get_user`` returns, from the compiled lookup."""
        try:
            user = _person.get(user_id)
        except _person.model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


def forget(user_id) -> None:
    """Drop the cached copy of a person, now and once the change commits (a request that
    read the old row just before could otherwise put it back)."""
    if not settings.SIGNED_IN_CACHE_SECONDS or user_id is None:
        return
    key = cache_key(user_id)
    shared_cache.delete(key)
    transaction.on_commit(lambda: shared_cache.delete(key))


def forget_person(sender, instance, **kwargs) -> None:
    """A person saved or deleted."""
    forget(instance.pk)


def forget_post_holder(sender, instance, **kwargs) -> None:
    """A post saved or deleted: its holder's posts changed."""
    forget(instance.user_id)
