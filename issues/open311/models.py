"""Integrating systems (API clients), their keys and what they filed.

Keys are shown once and stored as SHA-256 digests: they are long random strings, so a fast
digest is as safe as a slow password hash and lets every call be checked in one query.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiClient(models.Model):
    """Another system that reads and files issues: the 12345 hotline platform, a city app."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    contact = models.CharField(
        _("contact"), max_length=200, blank=True, help_text=_("Who to call when it misbehaves.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    may_write = models.BooleanField(
        _("may file issues"), default=True, help_text=_("Without this the key only reads.")
    )
    jurisdictions = models.ManyToManyField(
        "grids.Subdistrict",
        blank=True,
        related_name="api_clients",
        verbose_name=_("subdistricts it may file into"),
    )
    rate_limit = models.PositiveIntegerField(
        _("requests per minute"), default=60, help_text=_("Filing requests allowed per key.")
    )
    webhook_url = models.URLField(
        _("webhook URL"),
        blank=True,
        help_text=_("Public status changes of its requests are POSTed here, signed."),
    )
    webhook_secret = models.CharField(
        _("webhook secret"),
        max_length=64,
        blank=True,
        help_text=_("Signs each delivery (HMAC-SHA256); generated when left empty."),
    )
    # Delivery state: the last event delivered, and the failures since the last success.
    webhook_cursor = models.BigIntegerField(_("last event delivered"), default=0)
    webhook_failures = models.PositiveIntegerField(_("failed deliveries in a row"), default=0)
    webhook_retry_at = models.DateTimeField(_("next attempt after"), null=True, blank=True)
    webhook_last_error = models.CharField(_("last delivery error"), max_length=300, blank=True)
    webhook_delivered_at = models.DateTimeField(_("last delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.webhook_url and not self.webhook_secret:
            self.webhook_secret = secrets.token_hex(32)
        super().save(*args, **kwargs)

    def issue_key(self, *, retire_old_after: timedelta | None = None) -> str:
        """A new key, returned in clear this once. ``retire_old_after`` rotates: the keys
        in use stop working after that grace period (zero: at once)."""
        if retire_old_after is not None:
            cutoff = timezone.now() + retire_old_after
            self.keys.filter(
                models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=cutoff)
            ).update(expires_at=cutoff)
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        ApiKey.objects.create(client=self, prefix=prefix, hashed=digest(secret))
        return f"{prefix}.{secret}"


class ApiKey(models.Model):
    client = models.ForeignKey(
        ApiClient, on_delete=models.CASCADE, related_name="keys", verbose_name=_("client")
    )
    prefix = models.CharField(_("key prefix"), max_length=8, unique=True)
    hashed = models.CharField(_("key digest"), max_length=64)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("stops working at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}…"

    @property
    def is_valid(self) -> bool:
        return self.expires_at is None or self.expires_at > timezone.now()

    @classmethod
    def lookup(cls, key: str) -> ApiKey | None:
        """The valid key of an active client matching ``key``, or None (one query)."""
        prefix, _sep, secret = (key or "").partition(".")
        if not secret:
            return None
        found = cls.objects.select_related("client").filter(prefix=prefix).first()
        if (
            found is None
            or not found.is_valid
            or not found.client.is_active
            or not hmac.compare_digest(found.hashed, digest(secret))
        ):
            return None
        return found


class ApiRequest(models.Model):
    """What a client sent when it filed an issue: the requester's details (staff only),
    the media link, and what makes a resend recognisable."""

    issue = models.OneToOneField(
        "issues.Issue",
        on_delete=models.CASCADE,
        related_name="api_request",
        verbose_name=_("issue"),
    )
    client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, related_name="requests", verbose_name=_("client")
    )
    token = models.UUIDField(_("token"), default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, blank=True)
    # Digest of device/account + description + point: a resend within minutes matches.
    fingerprint = models.CharField(_("fingerprint"), max_length=64, blank=True)
    email = models.EmailField(_("requester e-mail"), blank=True)
    device_id = models.CharField(_("device id"), max_length=100, blank=True)
    account_id = models.CharField(_("account id"), max_length=100, blank=True)
    media_url = models.URLField(_("media URL"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("API request")
        verbose_name_plural = _("API requests")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="apirequest_unique_idempotency_key",
            )
        ]
        indexes = [
            models.Index(fields=["client", "fingerprint", "created_at"], name="apirequest_resend")
        ]

    def __str__(self):
        return f"{self.client} → {self.issue_id}"
