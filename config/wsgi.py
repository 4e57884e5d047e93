import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from config.serving import refuse_demo_key  # noqa: E402  (settings are ready only now)

refuse_demo_key()
