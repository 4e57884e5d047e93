"""Confirming an e-mail address: a signed link mailed to it. Until its owner opens the
link, the address receives nothing (no notifications, no password reset links), so an
address typed by mistake, or someone else's, is never written to."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from .models import User

SALT = "grids.email-confirmation"
MAX_AGE = 3 * 24 * 3600  # seconds a link stays valid


def send_link(request, user: User) -> None:
    """Mail ``user`` a link that confirms their current address."""
    token = signing.dumps({"user": user.pk, "email": user.email}, salt=SALT)
    context = {
        "user": user,
        "link": request.build_absolute_uri(reverse("email_confirm", args=[token])),
        "days": MAX_AGE // (24 * 3600),
    }
    subject = render_to_string("registration/email_confirm_subject.txt", context).strip()
    body = render_to_string("registration/email_confirm_email.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def confirm(token: str) -> User | None:
    """The person whose address the link confirms, now confirmed; None when the link is
    broken, expired, or for an address the account no longer has."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return None
    user = User.objects.filter(pk=data.get("user"), is_active=True).first()
    if user is None or not user.email or user.email != data.get("email"):
        return None
    if user.confirmed_email != user.email:
        user.confirmed_email = user.email
        user.save(update_fields=["confirmed_email"])
    return user
