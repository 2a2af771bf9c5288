import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moodlab.settings.base")

application = get_wsgi_application()

# Checked once the settings are loaded: without the static manifest every page would be a 500.
from moodlab.staticfiles import require_static_manifest  # noqa: E402

require_static_manifest()
