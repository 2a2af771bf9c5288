"""Data users' accounts and API tokens: sign-up, named tokens shown once, revocation.

Data users are plain accounts (never staff, so never in the admin); what they may read is
published snapshots, plus the unpublished snapshots of studies that granted them access.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from analysis.models import ApiToken, SnapshotAccessGrant
from moodlab.errors import Invalid, NotFound
from moodlab.studies.models import Study

KEY_PREFIX = "mlk_"
# last_used_at is written at most this often per token, not on every request.
_USE_RESOLUTION = timedelta(minutes=5)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def data_user_sign_up(*, username: str, email: str, password: str) -> User:
    """A data user's account: not staff, no permissions, a validated password."""
    user_model = cast(type[User], get_user_model())
    errors: dict[str, list[str]] = {}
    username = username.strip()
    if not username:
        errors["username"] = ["Choose a user name."]
    elif user_model.objects.filter(username__iexact=username).exists():
        errors["username"] = ["This user name is taken."]
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Enter a valid email address."]
    candidate = user_model(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as failure:
        errors["password"] = list(failure.messages)
    if errors:
        raise Invalid(errors)
    return user_model.objects.create_user(
        username=username, email=email, password=password, is_staff=False
    )


@transaction.atomic
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token and its key; the key exists only in the return value, never stored."""
    name = name.strip()
    if not name:
        raise Invalid({"name": ["Name the token, e.g. after the machine that uses it."]})
    if len(name) > 100:
        raise Invalid({"name": ["At most 100 characters."]})
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:12], key_hash=_hash(key))
    return token, key


@transaction.atomic
def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens; another user's token does not exist for them."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user__pk=user.pk).first()
    if token is None:
        raise NotFound(f"You have no token {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_user(*, key: str) -> User | None:
    """The active user a key belongs to, or None for an unknown or revoked key."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _USE_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@transaction.atomic
def snapshot_access_grant(
    *, study: Study, user: User, granted_by: User | None, note: str = ""
) -> SnapshotAccessGrant:
    """Let a data user read every complete snapshot (published or not) of one study."""
    grant, _created = SnapshotAccessGrant.objects.get_or_create(
        study=study, user=user, defaults={"granted_by": granted_by, "note": note}
    )
    return grant
