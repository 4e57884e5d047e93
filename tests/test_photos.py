"""Photos through the report and comment forms: only real JPEG/PNG/WebP images, at most
10 MB, 40 megapixels and 5 at a time, re-encoded without EXIF (no GPS position), stored
under a server-generated name, and shown as thumbnails through a view that lets only those
who may see the issue (and the event) see them."""

import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from issues.models import Issue, Photo
from tests.factories import image_upload


@pytest.fixture
def signed_in(client, people):
    client.force_login(people.resident)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    return client


def report(client, people, territory, photos):
    return client.post(
        reverse("issue_report"),
        {
            "building": people.resident.home_building.pk,
            "category": territory.category.pk,
            "title": "垃圾堆积",
            "description": "楼下垃圾三天没人清运。",
            "submission_token": str(uuid.uuid4()),
            "photos": photos,
        },
    )


def refused(response, message):
    """The form came back with the message next to the photo field, and nothing was filed."""
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["photos"])
    assert 'id="error_1_id_photos"' in response.text
    assert Issue.objects.count() == 0
    assert Photo.objects.count() == 0


def test_a_real_photo_is_stored_and_shown_as_a_thumbnail(signed_in, people, territory):
    response = report(signed_in, people, territory, [image_upload("street lamp.jpg")])
    assert response.status_code == 302
    photo = Photo.objects.get()
    assert photo.event.kind == "filed" and photo.uploaded_by == people.resident
    assert (photo.width, photo.height) == (64, 48)
    page = signed_in.get(response.url).text
    # The page draws the thumbnail and links to the photo.
    assert f'src="{reverse("photo_thumbnail", args=[photo.pk])}"' in page
    assert f'href="{reverse("photo", args=[photo.pk])}"' in page
    assert photo.image.url not in page  # media files are not linked to directly
    assert 'class="photo-thumb"' in page


def stored(field) -> Image.Image:
    with Image.open(field.path) as image:
        image.load()
        return image


def test_a_phone_photo_is_kept_at_the_set_size_with_a_square_thumbnail(
    signed_in, people, territory, settings
):
    settings.PHOTO_MAX_SIDE = 1200
    # Decoded at half its size, the least fraction that fits: no resampling.
    response = report(signed_in, people, territory, [image_upload("phone.jpg", size=(2400, 1800))])
    assert response.status_code == 302
    photo = Photo.objects.get()
    kept = stored(photo.image)
    assert kept.format == "JPEG" and kept.size == (1200, 900) == (photo.width, photo.height)
    thumbnail = stored(photo.thumbnail)
    assert thumbnail.format == "JPEG" and thumbnail.size == (192, 192)
    # One name the server chose, for both files.
    assert photo.thumbnail.name == photo.image.name.replace(".jpg", "-thumb.jpg")
    # The thumbnail is sent as the photo is, to whoever may see the photo.
    response = signed_in.get(reverse("photo_thumbnail", args=[photo.pk]))
    body = b"".join(response.streaming_content)
    assert response["Content-Type"] == "image/jpeg" and "private" in response["Cache-Control"]
    assert Image.open(io.BytesIO(body)).size == (192, 192)


def test_a_photo_between_the_fractions_is_decoded_at_the_one_that_fits(
    signed_in, people, territory, settings
):
    settings.PHOTO_MAX_SIDE = 1000
    report(signed_in, people, territory, [image_upload("phone.jpg", size=(2400, 1600))])
    # Half (1200) is still too large; a quarter fits.
    assert stored(Photo.objects.get().image).size == (600, 400)


def test_a_large_png_is_shrunk_to_the_set_size(signed_in, people, territory, settings):
    settings.PHOTO_MAX_SIDE = 1000
    report(signed_in, people, territory, [image_upload("screen.png", size=(1500, 600))])
    photo = Photo.objects.get()
    assert stored(photo.image).format == "PNG"
    assert (photo.width, photo.height) == stored(photo.image).size == (1000, 400)
    assert stored(photo.thumbnail).size == (192, 192)


def test_a_turned_phone_photo_is_kept_upright_after_shrinking(
    signed_in, people, territory, settings
):
    settings.PHOTO_MAX_SIDE = 1200
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; shown rotated 90° clockwise
    upload = image_upload("turned.jpg", size=(2400, 1200), exif=exif.tobytes())
    report(signed_in, people, territory, [upload])
    photo = Photo.objects.get()
    assert stored(photo.image).size == (600, 1200) == (photo.width, photo.height)


def test_a_small_photo_is_its_own_thumbnail(signed_in, people, territory):
    report(signed_in, people, territory, [image_upload("small.jpg", size=(320, 240))])
    photo = Photo.objects.get()
    assert not photo.thumbnail
    assert stored(photo.image).size == (320, 240)
    response = signed_in.get(reverse("photo_thumbnail", args=[photo.pk]))
    assert response.status_code == 200
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == (320, 240)


def test_the_stored_name_is_generated_by_the_server(signed_in, people, territory):
    report(signed_in, people, territory, [image_upload("../../我的照片 secret.png")])
    name = Photo.objects.get().image.name
    assert "secret" not in name and "我的照片" not in name and ".." not in name
    filename = name.rsplit("/", 1)[-1]
    stem, extension = filename.split(".")
    assert extension == "png"
    assert len(stem) == 32 and int(stem, 16) >= 0  # a uuid4 hex


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png", "photo.webp"])
def test_jpeg_png_and_webp_are_accepted(signed_in, people, territory, name):
    response = report(signed_in, people, territory, [image_upload(name)])
    assert response.status_code == 302
    stored = Photo.objects.get()
    with Image.open(stored.image.path) as image:
        assert image.format == {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[name.split(".")[1]]


def test_exif_and_gps_position_do_not_survive(signed_in, people, territory):
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2025:05:01 08:00:00"  # DateTime
    gps = exif.get_ifd(0x8825)  # GPSInfo
    gps[1] = "N"
    gps[2] = (36.0, 40.0, 12.5)
    gps[3] = "E"
    gps[4] = (117.0, 7.0, 30.0)
    upload = image_upload("gps.jpg", size=(120, 90), exif=exif.tobytes())
    # The upload really carries the position.
    with Image.open(io.BytesIO(upload.read())) as original:
        assert original.getexif().get_ifd(0x8825)[2] == (36.0, 40.0, 12.5)
    upload.seek(0)
    response = report(signed_in, people, territory, [upload])
    assert response.status_code == 302
    stored = Photo.objects.get()
    with Image.open(stored.image.path) as image:
        assert image.format == "JPEG"
        assert len(image.getexif()) == 0
        assert image.getexif().get_ifd(0x8825) == {}
        assert "exif" not in image.info
    with open(stored.image.path, "rb") as raw:
        content = raw.read()
    assert b"Exif" not in content and b"PhoneMaker" not in content


def test_an_oversized_file_is_refused(signed_in, people, territory):
    big = SimpleUploadedFile(
        "big.jpg", b"\xff\xd8\xff\xe0" + b"\0" * (10 * 1024 * 1024), content_type="image/jpeg"
    )
    refused(report(signed_in, people, territory, [big]), "“big.jpg” is larger than 10 MB.")


def test_a_gif_is_refused(signed_in, people, territory):
    refused(
        report(signed_in, people, territory, [image_upload("moving.gif")]),
        "“moving.gif” is not a JPEG, PNG or WebP image.",
    )


def test_a_text_file_named_jpg_is_refused(signed_in, people, territory):
    fake = SimpleUploadedFile(
        "photo.jpg", b"this is not a picture\n" * 20, content_type="image/jpeg"
    )
    refused(
        report(signed_in, people, territory, [fake]), "“photo.jpg” could not be read as an image."
    )


def bomb(name, side):
    """A PNG that is a few kilobytes on disk and side × side pixels once decoded."""
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, "PNG", optimize=True)
    assert len(buffer.getvalue()) < 200_000
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_a_decompression_bomb_is_refused_without_being_expanded(signed_in, people, territory):
    # 64 megapixels: over our 40 MP limit, under Pillow's own bomb threshold (89 MP).
    refused(
        report(signed_in, people, territory, [bomb("bomb.png", 8_000)]),
        "“bomb.png” has more than 40 megapixels.",
    )


def test_a_huge_decompression_bomb_is_refused_too(signed_in, people, territory):
    # 400 megapixels: Pillow itself refuses to open it; the message still says why.
    refused(
        report(signed_in, people, territory, [bomb("huge.png", 20_000)]),
        "“huge.png” has more than 40 megapixels.",
    )


def test_a_bomb_in_pillows_warning_range_is_refused(signed_in, people, territory):
    # 100 megapixels: Pillow only warns here; the warning must not escape as a 500.
    refused(
        report(signed_in, people, territory, [bomb("warned.png", 10_000)]),
        "“warned.png” has more than 40 megapixels.",
    )


def test_six_photos_are_too_many(signed_in, people, territory):
    photos = [image_upload(f"p{n}.png") for n in range(6)]
    refused(report(signed_in, people, territory, photos), "At most 5 photos at a time.")


def test_five_photos_are_fine(signed_in, people, territory):
    response = report(signed_in, people, territory, [image_upload(f"p{n}.png") for n in range(5)])
    assert response.status_code == 302
    assert Photo.objects.count() == 5


def test_one_bad_photo_among_good_ones_files_nothing(signed_in, people, territory):
    photos = [image_upload("good.png"), image_upload("bad.gif")]
    refused(report(signed_in, people, territory, photos), "“bad.gif” is not a JPEG")


def test_a_bad_photo_on_a_comment_is_refused_next_to_the_field(signed_in, people, territory):
    report(signed_in, people, territory, [])
    issue = Issue.objects.get()
    response = signed_in.post(
        reverse("my_issue_comment", args=[issue.tracking_number]),
        {"note": "补充照片", "photos": [image_upload("x.gif")]},
    )
    assert response.status_code == 200
    assert "photos" in response.context["comment_form"].errors
    assert 'id="error_1_id_photos"' in response.text
    assert issue.events.count() == 1 and Photo.objects.count() == 0


# --- who may open a photo --------------------------------------------------------------


@pytest.fixture
def photos(people, territory):
    """A public photo (filed with the report) and an internal one (a staff note)."""
    from issues import workflow
    from issues.models import Source
    from issues.photos import clean_photo

    issue = workflow.file_issue(
        actor=people.resident,
        source=Source.RESIDENT,
        category=territory.category,
        title="垃圾堆积",
        description="三天没人清运",
        building=people.resident.home_building,
        photos=[clean_photo(image_upload("public.png"))],
    )
    issue = workflow.comment(
        issue=issue,
        actor=people.worker,
        note="现场照片",
        is_public=False,
        photos=[clean_photo(image_upload("internal.png"))],
    )
    public = Photo.objects.get(event__kind="filed")
    internal = Photo.objects.exclude(pk=public.pk).get()
    return type("Photos", (), {"issue": issue, "public": public, "internal": internal})


def opened(client, photo, view="photo"):
    """The response, its body read (``body``) and its file closed."""
    response = client.get(reverse(view, args=[photo.pk]))
    streaming = getattr(response, "streaming", False)
    # Reading the whole stream lets the test client close the file (and nothing else).
    response.body = b"".join(response.streaming_content) if streaming else response.content
    return response


def test_the_reporter_sees_the_public_photo_privately_cached(client, people, photos):
    client.force_login(people.resident)
    response = opened(client, photos.public)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.body.startswith(b"\x89PNG")
    assert "private" in response["Cache-Control"]
    assert "X-Accel-Redirect" not in response


@pytest.mark.parametrize("view", ["photo", "photo_thumbnail"])
def test_the_reporter_does_not_see_an_internal_photo(client, people, photos, view):
    client.force_login(people.resident)
    assert opened(client, photos.internal, view).status_code == 404


def test_staff_in_scope_see_every_photo(client, people, photos):
    client.force_login(people.worker)
    assert opened(client, photos.public).status_code == 200
    assert opened(client, photos.internal).status_code == 200


def test_the_staff_issue_page_shows_each_photo_under_its_own_event(
    client, people, photos, django_assert_max_num_queries
):
    from issues.views.staff import timeline_of

    client.force_login(people.worker)
    page = client.get(reverse("staff_issue_detail", args=[photos.issue.tracking_number]))
    assert page.status_code == 200
    filed, internal = (
        f'href="{reverse("photo", args=[p.pk])}"' for p in (photos.public, photos.internal)
    )
    report, timeline = page.text.split('id="timeline-heading"')
    # The filing's photo above the timeline, and again under its event; the staff note's
    # photo under the note only.
    assert filed in report and internal not in report
    assert timeline.index(filed) < timeline.index("现场照片") < timeline.index(internal)
    assert timeline.count(filed) == timeline.count(internal) == 1
    # The timeline and its photos: two queries, however many of either.
    with django_assert_max_num_queries(2):
        events = timeline_of(photos.issue)
        assert [len(event.photo_list) for event in events] == [1, 1]


@pytest.mark.parametrize("view", ["photo", "photo_thumbnail"])
@pytest.mark.parametrize("who", ["anonymous", "other_resident", "far_worker"])
def test_nobody_else_sees_a_photo(client, people, territory, photos, who, view):
    from tests.factories import ResidentFactory, staff_on

    if who == "other_resident":
        client.force_login(ResidentFactory())
    elif who == "far_worker":
        client.force_login(staff_on(territory.far_grid))
    assert opened(client, photos.public, view).status_code == 404


def test_the_proxy_sends_the_file_when_configured(client, people, photos, settings):
    settings.MEDIA_X_ACCEL_REDIRECT = True
    client.force_login(people.resident)
    response = opened(client, photos.public)
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == photos.public.image.url
    assert response["X-Accel-Redirect"].startswith("/media/")
    assert response.body == b""
    assert "private" in response["Cache-Control"]


def test_media_files_are_not_served_by_url(client, people, photos, settings):
    settings.DEBUG = True
    client.force_login(people.resident)
    assert client.get(photos.public.image.url).status_code == 404


# --- thumbnails for photos stored before pages drew them ----------------------------------


def test_photos_stored_without_a_thumbnail_are_given_one(photos):
    from django.core.files.base import ContentFile
    from django.core.management import CommandError, call_command

    issue = photos.issue  # with two small photos, drawn as they are

    def stored_before(name, size, fmt="JPEG"):
        """A photo as it was kept before thumbnails: whole, and none beside it."""
        buffer = io.BytesIO()
        Image.new("RGB", size, (30, 120, 60)).save(buffer, fmt)
        return Photo.objects.create(
            issue=issue,
            image=ContentFile(buffer.getvalue(), name=name),
            width=size[0],
            height=size[1],
        )

    large = stored_before("old.jpg", (2016, 1512))
    small = stored_before("small.png", (300, 200), "PNG")
    gone = stored_before("gone.jpg", (800, 600))
    gone.image.storage.delete(gone.image.name)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="1 photos could not be read"):
        call_command("make_photo_thumbnails", stdout=out, stderr=err)
    assert "thumbnails made: 1; small enough to be drawn as they are: 3" in out.getvalue()
    assert f"photo {gone.pk}" in err.getvalue()
    large.refresh_from_db()
    assert stored(large.thumbnail).size == (192, 192)
    assert large.thumbnail.name.endswith(
        large.image.name.rsplit("/", 1)[1].replace(".jpg", "-thumb.jpg")
    )
    small.refresh_from_db()
    assert not small.thumbnail
    # Run again with nothing missing: nothing more is made.
    gone.delete()
    out = io.StringIO()
    call_command("make_photo_thumbnails", stdout=out)
    assert (
        "thumbnails made: 0; small enough to be drawn as they are: 3; unreadable or missing: 0"
        in out.getvalue()
    )
