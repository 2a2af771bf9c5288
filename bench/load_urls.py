"""The production URLs plus one bench-only route: the stack's floor for a write request."""

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from moodlab.urls import urlpatterns as production_urlpatterns

FLOOR_TABLE = "bench_floor"


@csrf_exempt
@require_POST
def floor_insert(request: HttpRequest) -> HttpResponse:
    """Insert one row in a transaction and answer JSON: the least a write request costs here."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {FLOOR_TABLE} (body) VALUES (%s) RETURNING id", [request.body])
        (row_id,) = cursor.fetchone()
    return JsonResponse({"id": row_id})


urlpatterns = [*production_urlpatterns, path("bench/floor/", floor_insert)]
