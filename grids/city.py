"""A city to measure against (DESIGN.md §8): the territory and the people of a city the size
of Jinan, written with PostgreSQL's ``COPY``. ``issues.city`` adds a year of issues to it
and ``manage.py build_city`` runs both.

The territory is a lattice around Jinan's centre (36.67°N 117.02°E): every grid is a small
rectangle (about 360 × 330 m, its sides traced with as many points as a real boundary), a
community a row of grids, a subdistrict a block of communities, the blocks side by side,
so the grids tile the area with neither gaps nor overlaps (一网覆盖) and ``geo.grid_at``
routes every point inside to exactly one grid.
Boundaries are stored as the admin and the boundary import store them: a GeoJSON Polygon
in ``Grid.boundary`` with its bounding box in the indexed columns.

Everything the city owns is recognisable by its codes (``CITY-…``) and user names
(``city-…``), so ``delete_city`` removes exactly it and the benchmarks find its accounts:
the first grid worker, community, subdistrict and department account of the first
subdistrict (``accounts``).
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.models import NOT_PROVIDED, JSONField, Max, Min, Value
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from .models import Building, Community, Department, Grid, Post, Subdistrict, User

CODE_PREFIX = "CITY"
USER_PREFIX = "city-"
# Every city account shares this password (a benchmark database only), so that a person
# can sign in and look around the city the benchmarks measured.
PASSWORD = "city12345"

# The lattice: its centre and the size of one grid, in degrees.
CENTRE_LAT, CENTRE_LNG = 36.67, 117.02
CELL_LAT, CELL_LNG = 0.003, 0.004
EDGE_POINTS = 32  # points along each side of a grid's boundary

# Names that read like Jinan's: subdistrict roots are two syllables, communities add a
# word for an estate, buildings and roads are numbered.
ROOT_FIRST = "泉历舜华燕龙文兴明大千甸洪鲍章仲港姚"
ROOT_SECOND = "山湖源城东西南北新安泰和"
ESTATES = [
    "花园", "新村", "家园", "名苑", "佳苑", "东苑", "西苑", "南苑", "北苑", "馨苑",
    "雅居", "嘉园", "丽景", "翠庭", "书香", "锦绣", "康城", "福邸", "金座", "颐和",
]  # fmt: skip
ROADS = ["经十路", "历山路", "舜耕路", "解放路", "和平路", "山大路", "花园路", "工业南路"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国红梅海燕志文斌鹏飞"
DEPARTMENTS = ["城管执法中队", "市场监管所", "住建办", "环卫所", "派出所", "司法所"]


@dataclass(frozen=True)
class Plan:
    """How big the city is. The defaults are Jinan's order of magnitude: 80 subdistricts,
    800 communities, 8,000 grids, 40,000 buildings, 80,000 residents and 3,040 staff (two
    grid workers per community holding five grids each, one community post, four
    subdistrict posts and four departments with one post each per subdistrict)."""

    subdistricts: int = 80
    communities: int = 10  # per subdistrict
    grids: int = 10  # per community
    buildings: int = 5  # per grid
    residents: int = 10  # per grid
    grids_per_worker: int = 5
    subdistrict_staff: int = 4  # per subdistrict
    departments: int = 4  # per subdistrict, one post each
    volunteer_share: float = 0.05
    party_member_share: float = 0.04

    def __post_init__(self):
        if min(self.subdistricts, self.communities, self.grids, self.buildings) < 1:
            raise ValueError("a city needs at least one of each unit and one building per grid")
        if self.residents < 1 or self.grids_per_worker < 1 or self.subdistrict_staff < 1:
            raise ValueError("a city needs residents, grid workers and subdistrict staff")
        if not 1 <= self.departments <= len(DEPARTMENTS):
            raise ValueError(f"between 1 and {len(DEPARTMENTS)} departments per subdistrict")


@dataclass
class Territory:
    """What was written, with the ids the issues need (no query per issue)."""

    subdistricts: list[tuple[int, str]] = field(default_factory=list)  # (id, name)
    # (id, community id, subdistrict id, (west, south, east, north))
    grids: list[tuple[int, int, int, tuple]] = field(default_factory=list)
    buildings: dict[int, list[tuple[int, float, float, str]]] = field(default_factory=dict)
    # subdistrict id → [(id, kind of department, its name there)]
    departments: dict[int, list[tuple[int, str, str]]] = field(default_factory=dict)
    # user ids by unit: grid id → worker; community id → staff; subdistrict id → staff
    worker_of_grid: dict[int, int] = field(default_factory=dict)
    community_staff: dict[int, list[int]] = field(default_factory=dict)
    subdistrict_staff: dict[int, list[int]] = field(default_factory=dict)
    department_staff: dict[int, int] = field(default_factory=dict)
    residents_of_grid: dict[int, list[int]] = field(default_factory=dict)
    volunteers_of_community: dict[int, list[int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


# --- COPY ---------------------------------------------------------------------------------


def _column_default(model_field):
    """The value a row gets for a column it does not name: the field's default, its
    database default, or NULL; a required column with none of them is an error (a field
    added to the model that the city does not know how to fill yet)."""
    if model_field.has_default():
        return model_field.get_default()
    db_default = getattr(model_field, "db_default", NOT_PROVIDED)
    if db_default is not NOT_PROVIDED:
        return db_default.value if isinstance(db_default, Value) else db_default
    value = model_field.get_default()  # "" for text columns, None for nullable ones
    return NOT_PROVIDED if value is None and not model_field.null else value


def copy_rows(model, rows: Iterable[dict], *, chunk: int = 50_000) -> int:
    """Write ``rows`` (dicts by attribute name, ``id`` included) into ``model``'s table
    with ``COPY … FROM STDIN``, in statements of ``chunk`` rows. Every concrete column is
    written: what a row leaves out gets the field's default, so a field another change
    adds to the model is filled without touching this code.

    The foreign keys are checked at the end of each statement (``SET CONSTRAINTS ALL
    IMMEDIATE``) rather than queued to the commit: the schema stays whole and the queue
    of checks stays small however many rows one transaction writes."""
    fields = list(model._meta.concrete_fields)
    defaults = {f.attname: _column_default(f) for f in fields}
    json_columns = {f.attname for f in fields if isinstance(f, JSONField)}
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    names = [f.attname for f in fields]
    written = 0
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        rows = iter(rows)
        while True:
            copied = 0
            # The rows are sent from a thread of their own, so the next ones are made while
            # the server stores these (two cores busy instead of one).
            sql = f"COPY {table} ({columns}) FROM STDIN"
            writer = QueuedLibpqWriter(cursor.cursor)
            with cursor.cursor.copy(sql, writer=writer) as copy:
                for row in rows:
                    values = []
                    for name in names:
                        value = row.get(name, defaults[name])
                        if value is NOT_PROVIDED:
                            raise ValueError(f"{model.__name__}.{name} has no value and no default")
                        if name in json_columns and value is not None:
                            value = json.dumps(value, ensure_ascii=False)
                        values.append(value)
                    copy.write_row(values)
                    copied += 1
                    if copied == chunk:
                        break
            written += copied
            if copied < chunk:
                return written


def next_ids(*models) -> dict:
    """The first free id of each table, its writers kept out until the transaction ends
    (``LOCK … IN EXCLUSIVE MODE``: readers go on), so rows can be written with their ids
    and point at one another without reading anything back."""
    found = {}
    with connection.cursor() as cursor:
        for model in models:
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
            found[model] = cursor.fetchone()[0]
    return found


def sync_sequences(*models) -> None:
    """Move each table's id sequence past the ids written explicitly."""
    with connection.cursor() as cursor:
        for model in models:
            table = model._meta.db_table
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                f"GREATEST((SELECT MAX(id) FROM {connection.ops.quote_name(table)}), 1))",
                [table],
            )


# --- the lattice --------------------------------------------------------------------------


def _layout(plan: Plan) -> tuple[int, float, float]:
    """(blocks per row, west edge, south edge): the subdistricts' blocks in a near-square
    arrangement centred on the city centre."""
    per_row = math.ceil(math.sqrt(plan.subdistricts))
    rows = math.ceil(plan.subdistricts / per_row)
    width = per_row * plan.grids * CELL_LNG
    height = rows * plan.communities * CELL_LAT
    return per_row, round(CENTRE_LNG - width / 2, 6), round(CENTRE_LAT - height / 2, 6)


def cell(plan: Plan, s: int, c: int, g: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of grid ``g`` of community ``c`` of subdistrict ``s``
    (all counted from 0): communities are rows of a subdistrict's block, grids cells of
    a row."""
    per_row, west, south = _layout(plan)
    column = (s % per_row) * plan.grids + g
    row = (s // per_row) * plan.communities + c
    return (
        round(west + column * CELL_LNG, 6),
        round(south + row * CELL_LAT, 6),
        round(west + (column + 1) * CELL_LNG, 6),
        round(south + (row + 1) * CELL_LAT, 6),
    )


def boundary(box) -> dict:
    """The GeoJSON Polygon of a box, counter-clockwise as RFC 7946 asks, each side traced
    with ``EDGE_POINTS`` points as a grid drawn along its streets on a real map is (some
    130 points, 3 KB of GeoJSON): what the maps send and draw, and what a page that reads
    a grid's row carries, is a real boundary's weight. The points lie on the box's sides,
    so the grids still tile the city exactly."""
    west, south, east, north = box
    corners = [(west, south), (east, south), (east, north), (west, north), (west, south)]
    ring = []
    for (x0, y0), (x1, y1) in itertools.pairwise(corners):
        ring += [
            [round(x0 + (x1 - x0) * i / EDGE_POINTS, 6), round(y0 + (y1 - y0) * i / EDGE_POINTS, 6)]
            for i in range(EDGE_POINTS)
        ]
    ring.append([west, south])
    return {"type": "Polygon", "coordinates": [ring]}


def extent() -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of the city's grids, or None without a city."""
    box = Grid.objects.filter(code__startswith=f"{CODE_PREFIX}-").aggregate(
        west=Min("min_lng"), south=Min("min_lat"), east=Max("max_lng"), north=Max("max_lat")
    )
    if box["west"] is None:
        return None
    return (box["west"], box["south"], box["east"], box["north"])


# --- names --------------------------------------------------------------------------------


def _root(s: int) -> str:
    first, second = divmod(s, len(ROOT_SECOND))
    return ROOT_FIRST[first % len(ROOT_FIRST)] + ROOT_SECOND[second]


def subdistrict_name(s: int) -> str:
    rounds = s // (len(ROOT_FIRST) * len(ROOT_SECOND))
    return f"{_root(s)}{'' if rounds == 0 else rounds + 1}街道"


def community_name(s: int, c: int) -> str:
    rounds = c // len(ESTATES)
    return f"{_root(s)}{ESTATES[c % len(ESTATES)]}{'' if rounds == 0 else rounds + 1}社区"


def person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def mobile(n: int) -> str:
    """A distinct mainland mobile number for the n-th person (numbers are unique)."""
    return f"13{n // 100_000_000 % 7 + 3}{n % 100_000_000:08d}"


# --- writing ------------------------------------------------------------------------------


def build_territory(plan: Plan, *, rng: random.Random, now=None) -> Territory:
    """Write the subdistricts, communities, grids (with boundaries), buildings,
    departments, staff with their posts, and residents, in the caller's transaction."""
    now = now or timezone.now()
    ids = next_ids(Subdistrict, Community, Grid, Building, Department, User, Post)
    territory = Territory()
    subdistricts, communities, grids, buildings, departments = [], [], [], [], []
    users, posts = [], []
    password = make_password(PASSWORD)
    next_id = dict(ids)

    def take(model) -> int:
        value = next_id[model]
        next_id[model] += 1
        return value

    def person(username, *, phone="", home_building_id=None, **extra) -> int:
        pk = take(User)
        users.append(
            {
                "id": pk,
                "username": f"{USER_PREFIX}{username}",
                "password": password,
                "first_name": person_name(rng),
                "last_name": "",
                "email": "",
                "is_staff": False,
                "is_superuser": False,
                "is_active": True,
                "date_joined": now,
                "phone": phone,
                "home_building_id": home_building_id,
                **extra,
            }
        )
        return pk

    def post(user_id, role, **unit) -> None:
        posts.append(
            {
                "id": take(Post),
                "user_id": user_id,
                "role": role,
                "grid_id": None,
                "community_id": None,
                "subdistrict_id": None,
                "department_id": None,
                "is_full_time": True,
                **unit,
            }
        )

    counters = {"worker": 0, "community": 0, "subdistrict": 0, "department": 0, "resident": 0}

    def username(kind) -> str:
        counters[kind] += 1
        return (
            f"{kind}-{counters[kind]:05d}" if kind == "resident" else f"{kind}-{counters[kind]:04d}"
        )

    for s in range(plan.subdistricts):
        subdistrict_id = take(Subdistrict)
        name = subdistrict_name(s)
        code = f"{CODE_PREFIX}-S{s + 1:03d}"
        subdistricts.append({"id": subdistrict_id, "code": code, "name": name})
        territory.subdistricts.append((subdistrict_id, name))
        staff = [
            person(username("subdistrict"), phone=mobile(len(users) + 1))
            for _n in range(plan.subdistrict_staff)
        ]
        for user_id in staff:
            post(user_id, Post.Role.SUBDISTRICT_STAFF, subdistrict_id=subdistrict_id)
        territory.subdistrict_staff[subdistrict_id] = staff
        territory.departments[subdistrict_id] = []
        for d in range(plan.departments):
            department_id = take(Department)
            department_name = DEPARTMENTS[d]
            if department_name == "派出所":
                department_name = f"{name.removesuffix('街道')}派出所"
            departments.append(
                {"id": department_id, "subdistrict_id": subdistrict_id, "name": department_name}
            )
            territory.departments[subdistrict_id].append(
                (department_id, DEPARTMENTS[d], department_name)
            )
            user_id = person(username("department"), phone=mobile(len(users) + 1))
            post(user_id, Post.Role.DEPARTMENT_STAFF, department_id=department_id)
            territory.department_staff[department_id] = user_id
        for c in range(plan.communities):
            community_id = take(Community)
            community = community_name(s, c)
            communities.append(
                {
                    "id": community_id,
                    "subdistrict_id": subdistrict_id,
                    "code": f"{code}-C{c + 1:02d}",
                    "name": community,
                }
            )
            staff_id = person(username("community"), phone=mobile(len(users) + 1))
            post(staff_id, Post.Role.COMMUNITY_STAFF, community_id=community_id)
            territory.community_staff[community_id] = [staff_id]
            territory.volunteers_of_community[community_id] = []
            worker_id = None
            for g in range(plan.grids):
                grid_id = take(Grid)
                box = cell(plan, s, c, g)
                west, south, east, north = box
                grids.append(
                    {
                        "id": grid_id,
                        "community_id": community_id,
                        "code": f"{code}-C{c + 1:02d}-G{g + 1:02d}",
                        "name": f"{community.removesuffix('社区')}第{g + 1}网格",
                        "boundary": boundary(box),
                        "min_lat": south,
                        "max_lat": north,
                        "min_lng": west,
                        "max_lng": east,
                    }
                )
                territory.grids.append((grid_id, community_id, subdistrict_id, box))
                if g % plan.grids_per_worker == 0:
                    worker_id = person(username("worker"), phone=mobile(len(users) + 1))
                post(worker_id, Post.Role.GRID_WORKER, grid_id=grid_id)
                territory.worker_of_grid[grid_id] = worker_id
                road = ROADS[(s + c) % len(ROADS)]
                placed = territory.buildings[grid_id] = []
                for b in range(plan.buildings):
                    building_id = take(Building)
                    # Inside the cell, away from its edges: a building is in one grid.
                    lat = round(south + (0.1 + 0.8 * rng.random()) * (north - south), 6)
                    lng = round(west + (0.1 + 0.8 * rng.random()) * (east - west), 6)
                    building_name = f"{g + 1}区{b + 1}号楼"
                    address = f"{road}{(c * plan.grids + g) * 10 + b + 1}号{building_name}"
                    buildings.append(
                        {
                            "id": building_id,
                            "grid_id": grid_id,
                            "name": building_name,
                            "address": address,
                            "latitude": lat,
                            "longitude": lng,
                            "stated_community_id": None,
                        }
                    )
                    placed.append((building_id, lat, lng, address))
                residents = territory.residents_of_grid[grid_id] = []
                for r in range(plan.residents):
                    building_id = placed[r % len(placed)][0]
                    volunteer = rng.random() < plan.volunteer_share
                    user_id = person(
                        username("resident"),
                        phone=mobile(len(users) + 1),
                        home_building_id=building_id,
                        is_volunteer=volunteer,
                        is_party_member=rng.random() < plan.party_member_share,
                    )
                    residents.append(user_id)
                    if volunteer:
                        territory.volunteers_of_community[community_id].append(user_id)

    # Parents before children: each COPY's foreign keys are checked as it ends.
    territory.counts = {
        "subdistricts": copy_rows(Subdistrict, subdistricts),
        "communities": copy_rows(Community, communities),
        "grids": copy_rows(Grid, grids),
        "buildings": copy_rows(Building, buildings),
        "departments": copy_rows(Department, departments),
        "users": copy_rows(User, users),
        "posts": copy_rows(Post, posts),
    }
    territory.counts["staff"] = len({p["user_id"] for p in posts})
    sync_sequences(Subdistrict, Community, Grid, Building, Department, User, Post)
    return territory


# --- finding it ---------------------------------------------------------------------------


def subdistricts():
    return Subdistrict.objects.filter(code__startswith=f"{CODE_PREFIX}-")


def exists() -> bool:
    return subdistricts().exists()


@dataclass(frozen=True)
class Accounts:
    """One account per role on the city's first units, for the benchmarks."""

    grid_worker: User
    community_staff: User
    subdistrict_staff: User
    department_staff: User

    def by_role(self) -> list[tuple[str, User]]:
        return [
            ("grid worker", self.grid_worker),
            ("community staff", self.community_staff),
            ("subdistrict staff", self.subdistrict_staff),
            ("department staff", self.department_staff),
        ]


def accounts() -> Accounts | None:
    """The first account of each role in the city (None without a city)."""
    first = subdistricts().order_by("code").first()
    if first is None:
        return None
    posts = Post.objects.select_related("user").filter(user__username__startswith=USER_PREFIX)
    found = {}
    for role, condition in (
        (Post.Role.GRID_WORKER, {"grid__community__subdistrict": first}),
        (Post.Role.COMMUNITY_STAFF, {"community__subdistrict": first}),
        (Post.Role.SUBDISTRICT_STAFF, {"subdistrict": first}),
        (Post.Role.DEPARTMENT_STAFF, {"department__subdistrict": first}),
    ):
        post = posts.filter(role=role, **condition).order_by("user__username").first()
        if post is None:
            return None
        found[role] = post.user
    return Accounts(
        grid_worker=found[Post.Role.GRID_WORKER],
        community_staff=found[Post.Role.COMMUNITY_STAFF],
        subdistrict_staff=found[Post.Role.SUBDISTRICT_STAFF],
        department_staff=found[Post.Role.DEPARTMENT_STAFF],
    )
