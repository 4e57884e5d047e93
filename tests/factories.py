"""factory_boy factories for the territory, people and issues.

Issues are created through ``issues.workflow.file_issue`` where a test cares about the
workflow; ``IssueFactory`` writes a row directly for setting up a state quickly.
"""

from datetime import timedelta

import factory
from django.utils import timezone

from grids import units
from grids.models import Building, Community, Department, Grid, Post, Subdistrict, User
from issues.models import Category, Issue, Level, Severity, Source, Status


class SubdistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subdistrict

    name = factory.Sequence(lambda n: f"街道{n}")
    code = factory.Sequence(lambda n: f"S{n:04d}")


class CommunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Community

    subdistrict = factory.SubFactory(SubdistrictFactory)
    name = factory.Sequence(lambda n: f"社区{n}")
    code = factory.Sequence(lambda n: f"C{n:05d}")


class GridFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grid

    community = factory.SubFactory(CommunityFactory)
    name = factory.Sequence(lambda n: f"第{n}网格")
    code = factory.Sequence(lambda n: f"G{n:06d}")


class BuildingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Building

    grid = factory.SubFactory(GridFactory)
    name = factory.Sequence(lambda n: f"{n}号楼")
    address = factory.Sequence(lambda n: f"经十东路{n}号")


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    subdistrict = factory.SubFactory(SubdistrictFactory)
    name = factory.Sequence(lambda n: f"部门{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    phone = factory.Sequence(lambda n: f"138{n:08d}")
    email = ""
    # An address given in a test is taken as confirmed unless the test says otherwise.
    confirmed_email = factory.SelfAttribute("email")
    password = factory.PostGenerationMethodCall("set_password", "demo12345")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class ResidentFactory(UserFactory):
    home_building = factory.SubFactory(BuildingFactory)


def post_for(user, unit):
    """Give ``user`` a post on ``unit`` with the role that unit takes."""
    post = Post.objects.create(user=user, **units.post_values(unit))
    user.__dict__.pop("_issue_scope", None)
    return post


def staff_on(unit, **kwargs):
    user = UserFactory(**kwargs)
    post_for(user, unit)
    return user


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"类别{n}")
    hint = "示例"
    default_severity = Severity.MINOR


class IssueFactory(factory.django.DjangoModelFactory):
    """A row in a given state, written directly (not through the workflow)."""

    class Meta:
        model = Issue

    tracking_number = factory.Sequence(lambda n: f"T{n:010d}")
    title = factory.Sequence(lambda n: f"路灯不亮{n}")
    description = "晚上小区路灯不亮，出行不便。"
    category = factory.SubFactory(CategoryFactory)
    severity = Severity.MINOR
    source = Source.RESIDENT
    reporter = factory.SubFactory(ResidentFactory)
    grid = factory.SubFactory(GridFactory)
    community = factory.LazyAttribute(lambda o: o.grid.community)
    subdistrict = factory.LazyAttribute(lambda o: o.grid.community.subdistrict)
    level = Level.GRID
    status = Status.SUBMITTED
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=48))
    level_entered_at = factory.LazyFunction(timezone.now)


# Where an issue is handled (staff workspace tests): its level and whether it is dispatched.
POSITION_LEVEL = {
    "grid": Level.GRID,
    "community": Level.COMMUNITY,
    "subdistrict": Level.SUBDISTRICT,
    "department": Level.SUBDISTRICT,
}


def issue_at(territory, position="grid", *, status=Status.SUBMITTED, grid=None, **fields):
    """An issue in ``territory.grid`` (or ``grid``) at a position: "grid", "community",
    "subdistrict" or "department" (at the subdistrict, dispatched to its department)."""
    now = timezone.now()
    values = dict(
        grid=grid or territory.grid,
        category=territory.category,
        level=POSITION_LEVEL[position],
        department=territory.department if position == "department" else None,
        status=status,
        due_at=now + timedelta(hours=24),
        level_entered_at=now - timedelta(hours=1),
    )
    if status in (Status.IN_PROGRESS, Status.SUSPENDED, Status.RESOLVED):
        values["accepted_at"] = now - timedelta(minutes=50)
    if status == Status.SUSPENDED:
        values["suspended_at"] = now - timedelta(minutes=10)
    if status == Status.RESOLVED:
        values["resolved_at"] = now - timedelta(minutes=5)
    if status in (Status.CLOSED, Status.REJECTED):
        values["closed_at"] = now - timedelta(minutes=5)
    values.update(fields)
    return IssueFactory(**values)


def image_upload(name="photo.png", *, size=(64, 48), fmt=None, color=(200, 80, 40), **save):
    """A real image made with Pillow, as an uploaded file (format from the name unless
    ``fmt``; extra keywords go to ``Image.save``, e.g. ``exif=``)."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    formats = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}
    fmt = fmt or formats[name.rsplit(".", 1)[-1].lower()]
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt, **save)
    content_type = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}.get(
        fmt, "application/octet-stream"
    )
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)
