"""The migration to one account per mobile number copes with the data it finds: names
folded into the one 姓名 field, numbers normalised, a number shared by several accounts
kept by the one that signed in last, staff addresses confirmed, residents' not."""

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("grids", "0002_building_stated_community")]
AFTER = [("grids", "0003_one_account_per_mobile_number")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_people_are_brought_in_line():
    apps = migrate(BEFORE)
    try:
        User = apps.get_model("grids", "User")
        Post = apps.get_model("grids", "Post")
        Subdistrict = apps.get_model("grids", "Subdistrict")
        long_ago = datetime(2025, 1, 1, tzinfo=datetime.now().astimezone().tzinfo)

        def person(username, **fields):
            return User.objects.create(username=username, date_joined=long_ago, **fields)

        recent = person("recent", phone="13953100001", last_login=long_ago + timedelta(days=9))
        # SQLite stored whatever was typed; PostgreSQL held it to 11 characters.
        typed = "139-5310-0001" if connection.vendor == "sqlite" else "13953100001"
        older = person("older", phone=typed, last_login=long_ago)
        never = person("never", phone=typed.replace("-", " "))
        alone = person("alone", phone="13953100002", first_name="丽", last_name="王")
        person("western", first_name="Anna", last_name="Li")
        person("resident", email="typed@example.com")
        staff = person("staff", email="staff@example.com")
        Post.objects.create(
            user=staff,
            role="subdistrict_staff",
            subdistrict=Subdistrict.objects.create(name="龙洞街道", code="LD"),
        )

        apps = migrate(AFTER)
        User = apps.get_model("grids", "User")
        phones = dict(User.objects.values_list("username", "phone"))
        assert phones["recent"] == "13953100001"  # signed in last: keeps the number
        assert phones["older"] == phones["never"] == ""
        assert phones["alone"] == "13953100002"
        names = dict(User.objects.values_list("username", "first_name"))
        assert (names["alone"], names["western"]) == ("王丽", "Anna Li")
        assert not User.objects.exclude(last_name="").exists()
        confirmed = dict(User.objects.values_list("username", "confirmed_email"))
        assert confirmed["staff"] == "staff@example.com"
        assert confirmed["resident"] == ""
        assert {older.pk, never.pk, recent.pk, alone.pk} <= set(
            User.objects.values_list("pk", flat=True)
        )
    finally:
        # Back to the latest schema of every app: going back to BEFORE also took away
        # the later migrations of grids and of the apps that depend on it.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
