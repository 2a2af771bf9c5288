"""Every change of state in the core (studies, locales, songs, terms, participants and their steps).

One module per concern; the admin, the APIs, Celery tasks, management commands and tests call
these functions and never write models themselves.
"""
