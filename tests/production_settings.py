"""Production settings (tremplin.web.settings, DEBUG off, nothing relaxed) for tests that run a production server.

The one change: static files are stored without WhiteNoise's compressed manifest, which `collectstatic` takes over
a minute to build on this machine; these tests look at responses' headers, not at static files.
`manage.py check --deploy` is run on tremplin.web.settings itself (tests/web/core/test_deploy.py).
"""

from tremplin.web.settings import *  # noqa: F403

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
