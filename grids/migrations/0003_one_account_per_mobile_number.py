"""One mobile number, one account; one name field; e-mail confirmed before mail is sent.

Existing rows are brought in line before the constraint is added:
- names: ``last_name`` is folded into ``first_name`` (family name first, without a space,
  for a Chinese name; in Western order otherwise) and cleared;
- mobile numbers are normalised (dashes, spaces, +86 dropped); a number held by several
  accounts stays with the one that signed in last (or, never signed in, the oldest) and is
  cleared on the others, whose owners are asked for it when they next edit their profile;
- e-mail addresses of staff were entered by an administrator and count as confirmed;
  residents' addresses, typed by anyone at sign-up, must be confirmed through a link.
"""

import unicodedata

from django.db import migrations, models

from grids.models import mainland_mobile_validator, normalise_phone


def _is_wide(text):
    return bool(text) and unicodedata.east_asian_width(text[0]) in ("W", "F")


def forwards(apps, schema_editor):
    User = apps.get_model("grids", "User")
    people = User.objects.order_by("pk").only(
        "pk",
        "first_name",
        "last_name",
        "phone",
        "email",
        "is_staff",
        "is_superuser",
        "last_login",
        "date_joined",
    )
    staff_ids = set(
        apps.get_model("grids", "Post").objects.values_list("user_id", flat=True).distinct()
    )
    holders = {}
    for user in people.iterator(chunk_size=2000):
        fields = []
        first, last = user.first_name.strip(), user.last_name.strip()
        if last:
            user.first_name = (
                f"{last}{first}"
                if _is_wide(last) and _is_wide(first or last)
                else f"{first} {last}".strip()
            )[:150]
            user.last_name = ""
            fields += ["first_name", "last_name"]
        phone = normalise_phone(user.phone)
        try:
            mainland_mobile_validator(phone)
        except Exception:
            phone = user.phone  # not a mobile number: left for its owner to correct
        if phone != user.phone:
            user.phone = phone
            fields.append("phone")
        if user.email and (user.is_staff or user.is_superuser or user.pk in staff_ids):
            user.confirmed_email = user.email
            fields.append("confirmed_email")
        if fields:
            user.save(update_fields=fields)
        if user.phone:
            holders.setdefault(user.phone, []).append(user)
    for accounts in holders.values():
        if len(accounts) < 2:
            continue
        # The account that signed in last keeps the number; never signed in: the oldest.
        accounts.sort(
            key=lambda u: (
                u.last_login is None,
                -(u.last_login.timestamp() if u.last_login else 0),
                u.date_joined,
                u.pk,
            )
        )
        User.objects.filter(pk__in=[u.pk for u in accounts[1:]]).update(phone="")


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("grids", "0002_building_stated_community"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="confirmed_email",
            field=models.EmailField(
                blank=True,
                editable=False,
                help_text="The address its owner confirmed through a link; mail goes only there.",
                max_length=254,
                verbose_name="confirmed e-mail address",
            ),
        ),
        migrations.AlterField(
            model_name="user",
            name="first_name",
            field=models.CharField(blank=True, max_length=150, verbose_name="full name"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                condition=models.Q(("phone", ""), _negated=True),
                fields=("phone",),
                name="user_unique_phone",
                violation_error_code="phone_taken",
                violation_error_message="Another account already has this mobile number.",
            ),
        ),
    ]
