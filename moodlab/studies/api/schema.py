"""Teach drf-spectacular how participants authenticate, so the schema documents it."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ParticipantAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "moodlab.studies.api.permissions.ParticipantAuthentication"
    name = "participantToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Participant <token>`, the token answered by POST /api/v1/participants/. "
                "Browser pages use the session cookie with CSRF instead."
            ),
        }
