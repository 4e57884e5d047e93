"""Resident accounts for the load benchmark, made in bulk: ``load-0001`` … with mobile
numbers ``13700000001`` …, each living in one of the demo buildings in turn, all with the
demo password. Existing accounts are left as they are.

Also the grid the bare inserts write to (``BARE_GRID``, no buildings, nobody lives there),
so that the baseline's rows never sit in a grid the residents file into.

    DJANGO_SETTINGS_MODULE=config.bench_settings python -m bench.load.residents 50
"""

import argparse
import os
import sys

import django

BARE_GRID = "LOAD-BARE"


def username(number: int) -> str:
    return f"load-{number:04d}"


def phone(number: int) -> str:
    return f"137{number:08d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("--password", default=os.environ.get("LOAD_PASSWORD", "demo12345"))
    args = parser.parse_args()

    django.setup()
    from django.contrib.auth.hashers import make_password

    from grids.models import Building, Community, Grid, User

    buildings = list(Building.objects.order_by("pk"))
    if not buildings:
        sys.exit("load: no buildings; seed the demo data first (manage.py seed_demo)")
    # One hash for all: hashing is slow on purpose, and they share the password anyway.
    password = make_password(args.password)
    User.objects.bulk_create(
        [
            User(
                username=username(n),
                first_name=f"压测居民{n:04d}",
                phone=phone(n),
                home_building=buildings[n % len(buildings)],
                password=password,
            )
            for n in range(1, args.count + 1)
        ],
        ignore_conflicts=True,
    )
    Grid.objects.get_or_create(
        code=BARE_GRID,
        defaults={"community": Community.objects.order_by("pk").first(), "name": "压测基线网格"},
    )
    made = User.objects.filter(username__startswith="load-").count()
    print(f"load: {made} resident accounts (load-0001…, password {args.password})")


if __name__ == "__main__":
    main()
