from django.core.management import call_command


def test_the_openapi_schema_builds_valid_and_without_warnings(tmp_path, db):
    """Name collisions or views drf-spectacular cannot read would make the docs lie."""
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = out.read_text()
    assert "/api/v1/elicitation/turn/" in schema
    assert "participantToken" in schema
