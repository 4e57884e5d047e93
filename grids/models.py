"""The territory and its people.

Every building sits in exactly one grid, every grid in one community, every community in
one subdistrict ("一网覆盖"). Staff hold *posts* on units; a post names exactly the unit
that matches its role, which the database enforces.
"""

import secrets
import string
import unicodedata

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import geo, units

MOBILE_PATTERN = r"1[3-9]\d{9}"
mainland_mobile_validator = RegexValidator(
    regex=rf"^{MOBILE_PATTERN}$",
    message=_("Enter a mainland China mobile number: 11 digits starting with 13–19."),
    code="invalid_phone",
)


def normalise_phone(text: str) -> str:
    """A mobile number as people write it (``139-5310-0001``, ``139 5310 0001``,
    ``+86 139…``, ``0086…``, full-width digits) reduced to its digits; the country code
    of the mainland is dropped. Not validated: ``mainland_mobile_validator`` does that."""
    text = unicodedata.normalize("NFKC", text or "")
    digits = "".join(ch for ch in text if ch not in " -()\u3000.")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            return digits[len(prefix) :]
    if len(digits) == 13 and digits.startswith("86"):
        return digits[2:]
    return digits


class Subdistrict(models.Model):
    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=32, unique=True)

    class Meta:
        verbose_name = _("subdistrict")
        verbose_name_plural = _("subdistricts")
        ordering = ["code"]

    def __str__(self):
        return self.name


class Community(models.Model):
    subdistrict = models.ForeignKey(
        Subdistrict,
        on_delete=models.PROTECT,
        related_name="communities",
        verbose_name=_("subdistrict"),
    )
    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=32, unique=True)

    class Meta:
        verbose_name = _("community")
        verbose_name_plural = _("communities")
        ordering = ["code"]

    def __str__(self):
        return self.name


class Grid(models.Model):
    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, related_name="grids", verbose_name=_("community")
    )
    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=32, unique=True)
    # Drawn by the maps and read by routing; every page, form, admin list and export that
    # only names a grid beside another row leaves it out of its fetch
    # (``defer("grid__boundary")``): one traced on a real map is kilobytes of GeoJSON to
    # send and decode per row.
    boundary = models.JSONField(
        _("boundary"),
        null=True,
        blank=True,
        validators=[geo.validate_boundary],
        help_text=_(
            "GeoJSON Polygon or MultiPolygon in WGS-84, longitude first "
            '(e.g. {"type": "Polygon", "coordinates": [[[117.13, 36.62], …]]}).'
        ),
    )
    # The boundary's bounding box, kept in step by save(): routing a point asks the index
    # for the few grids whose box holds it before testing any polygon.
    min_lat = models.FloatField(_("south edge"), null=True, blank=True, editable=False)
    max_lat = models.FloatField(_("north edge"), null=True, blank=True, editable=False)
    min_lng = models.FloatField(_("west edge"), null=True, blank=True, editable=False)
    max_lng = models.FloatField(_("east edge"), null=True, blank=True, editable=False)

    BOX_FIELDS = ("min_lat", "min_lng", "max_lat", "max_lng")

    class Meta:
        verbose_name = _("grid")
        verbose_name_plural = _("grids")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["min_lat", "max_lat", "min_lng", "max_lng"], name="grid_bbox")
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        for field, value in zip(self.BOX_FIELDS, geo.bounding_box(self.boundary), strict=True):
            setattr(self, field, value)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "boundary" in update_fields:
            kwargs["update_fields"] = {*update_fields, *self.BOX_FIELDS}
        super().save(*args, **kwargs)


class Building(models.Model):
    grid = models.ForeignKey(
        Grid, on_delete=models.PROTECT, related_name="buildings", verbose_name=_("grid")
    )
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    # Set by the building import when the file names a community other than the grid's
    # (two registers disagree); the coverage page lists these until someone settles them.
    stated_community = models.ForeignKey(
        Community,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="stated_buildings",
        verbose_name=_("community stated in import"),
        help_text=_(
            "The community an import file named for this building when it differed from "
            "its grid's community. Move the building to a grid of the right community, "
            "or clear this field once checked."
        ),
    )

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        ordering = ["grid_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["grid", "name"], name="building_unique_name_in_grid"),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="building_point_complete",
                violation_error_message=_("Give both latitude and longitude, or neither."),
            ),
        ]
        indexes = [models.Index(fields=["latitude", "longitude"], name="building_point")]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if self.latitude is not None and self.longitude is not None:
            if not geo.in_china(float(self.latitude), float(self.longitude)):
                raise ValidationError(
                    _("This point lies outside China: are latitude and longitude swapped?"),
                    code="outside_china",
                )


class Department(models.Model):
    subdistrict = models.ForeignKey(
        Subdistrict,
        on_delete=models.PROTECT,
        related_name="departments",
        verbose_name=_("subdistrict"),
    )
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["subdistrict_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["subdistrict", "name"], name="department_unique_name_in_subdistrict"
            )
        ]

    def __str__(self):
        return self.name


class User(AbstractUser):
    """A person: a resident, a staff member, or both.

    ``first_name`` holds the whole name (姓名, "王磊"): Chinese names are not split into a
    given and a family name, and pages show the name as it is written, never the username.
    ``last_name`` is not used. A mobile number belongs to one account at most; an e-mail
    address receives mail only once its owner confirmed it (``confirmed_email``).
    """

    first_name = models.CharField(_("full name"), max_length=150, blank=True)
    phone = models.CharField(
        _("mobile phone"), max_length=11, blank=True, validators=[mainland_mobile_validator]
    )
    confirmed_email = models.EmailField(
        _("confirmed e-mail address"),
        blank=True,
        editable=False,
        help_text=_("The address its owner confirmed through a link; mail goes only there."),
    )
    home_building = models.ForeignKey(
        Building,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="residents",
        verbose_name=_("home building"),
    )
    is_party_member = models.BooleanField(_("party member"), default=False)
    is_volunteer = models.BooleanField(_("volunteer"), default=False)

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                fields=["phone"],
                condition=~Q(phone=""),
                name="user_unique_phone",
                violation_error_code="phone_taken",
                violation_error_message=_("Another account already has this mobile number."),
            ),
        ]

    def __str__(self):
        return self.display_name

    def get_full_name(self):
        return self.first_name.strip()

    def get_short_name(self):
        return self.get_full_name()

    @property
    def display_name(self) -> str:
        """The name staff read; an account without one (made before names were asked
        for) shows its login name rather than nothing."""
        return self.get_full_name() or self.username

    @property
    def masked_name(self) -> str:
        """The name as residents read a staff member's ("王某"); empty without a name."""
        return masked_name(self.get_full_name())

    @property
    def notification_email(self) -> str:
        """Where mail may go: the e-mail address, once confirmed; otherwise nowhere."""
        return self.email if self.email and self.email == self.confirmed_email else ""


def new_username() -> str:
    """A login name for a resident who signs up (they sign in with their mobile number):
    "r" and eight random letters and digits, never shown on any page."""
    alphabet = string.ascii_lowercase + string.digits
    while True:
        username = "r" + "".join(secrets.choice(alphabet) for _position in range(8))
        if not User.objects.filter(username=username).exists():
            return username


def masked_name(name: str) -> str:
    """A name shown to the public: its first character, the surname of a Chinese name,
    as Chinese says it ("王某"; "王." in English)."""
    name = name.strip()
    if not name:
        return ""
    return gettext("%(initial)s.") % {"initial": name[0].upper()}


class Post(models.Model):
    """A staff position on exactly one unit; its role decides which unit."""

    class Role(models.TextChoices):
        GRID_WORKER = "grid_worker", _("Grid worker")
        COMMUNITY_STAFF = "community_staff", _("Community staff")
        SUBDISTRICT_STAFF = "subdistrict_staff", _("Subdistrict staff")
        DEPARTMENT_STAFF = "department_staff", _("Department staff")

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="posts", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    grid = models.ForeignKey(
        Grid,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="posts",
        verbose_name=_("grid"),
    )
    community = models.ForeignKey(
        Community,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="posts",
        verbose_name=_("community"),
    )
    subdistrict = models.ForeignKey(
        Subdistrict,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="posts",
        verbose_name=_("subdistrict"),
    )
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="posts",
        verbose_name=_("department"),
    )
    is_full_time = models.BooleanField(
        _("full-time"), default=True, help_text=_("Full-time or part-time post.")
    )

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        role="grid_worker",
                        grid__isnull=False,
                        community__isnull=True,
                        subdistrict__isnull=True,
                        department__isnull=True,
                    )
                    | Q(
                        role="community_staff",
                        grid__isnull=True,
                        community__isnull=False,
                        subdistrict__isnull=True,
                        department__isnull=True,
                    )
                    | Q(
                        role="subdistrict_staff",
                        grid__isnull=True,
                        community__isnull=True,
                        subdistrict__isnull=False,
                        department__isnull=True,
                    )
                    | Q(
                        role="department_staff",
                        grid__isnull=True,
                        community__isnull=True,
                        subdistrict__isnull=True,
                        department__isnull=False,
                    )
                ),
                name="post_unit_matches_role",
                violation_error_message=_("A post names exactly the unit that matches its role."),
            ),
            models.UniqueConstraint(
                fields=["user", "grid"], condition=Q(grid__isnull=False), name="post_unique_grid"
            ),
            models.UniqueConstraint(
                fields=["user", "community"],
                condition=Q(community__isnull=False),
                name="post_unique_community",
            ),
            models.UniqueConstraint(
                fields=["user", "subdistrict"],
                condition=Q(subdistrict__isnull=False),
                name="post_unique_subdistrict",
            ),
            models.UniqueConstraint(
                fields=["user", "department"],
                condition=Q(department__isnull=False),
                name="post_unique_department",
            ),
        ]

    def __str__(self):
        return f"{self.get_role_display()} · {self.unit}"

    @property
    def unit(self):
        return getattr(self, units.of_role(self.role).field)


class ImportJob(models.Model):
    """One file an administrator imports: checked, then imported, by the task worker
    (``grids.imports``), with its outcome."""

    class Stage(models.TextChoices):
        CHECK = "check", _("check")
        IMPORT = "import", _("import")

    class State(models.TextChoices):
        QUEUED = "queued", _("waiting for the task worker")
        RUNNING = "running", _("running")
        CHECKED = "checked", _("checked, waiting for confirmation")
        REFUSED = "refused", _("refused: bad rows")
        IMPORTED = "imported", _("imported")
        FAILED = "failed", _("failed")
        EXPIRED = "expired", _("not confirmed in time: file dropped")

    model = models.CharField(_("what"), max_length=100)  # app_label.model_name
    resource = models.PositiveSmallIntegerField(default=0)
    format = models.PositiveSmallIntegerField(default=0)
    file_name = models.CharField(max_length=100)  # in the import storage
    original_name = models.CharField(_("file"), max_length=255)
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    rows = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("by")
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]

    def __str__(self):
        return self.original_name

    @property
    def waiting(self) -> bool:
        """Queued or running: the page keeps refreshing."""
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    def storage(self):
        """The uploaded file, in the import storage (``settings.STORAGES["import_export"]``)."""
        from import_export.tmp_storages import MediaStorage

        return MediaStorage(name=self.file_name, read_mode="rb")
