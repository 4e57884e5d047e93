"""Daily rollups in tests: the workflow and the sweep keep them, but tests that write issue
rows directly (``IssueFactory``) bypass both. ``rollups_follow_saves`` keeps the rollups as
the workflow would, for the issues saved one by one; after a ``bulk_create`` or an
``update()``, call ``rollups.refresh_issues`` (or ``rollups.rebuild``)."""

import pytest
from django.db.models.signals import post_save

from issues import rollups
from issues.models import Issue


def _refresh(sender, instance, **kwargs):
    rollups.refresh_issue(instance)


@pytest.fixture
def rollups_follow_saves(db):
    post_save.connect(_refresh, sender=Issue, dispatch_uid="tests-rollups-follow-saves")
    yield
    post_save.disconnect(sender=Issue, dispatch_uid="tests-rollups-follow-saves")
