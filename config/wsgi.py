import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from config.serving import freeze_after_warm_up, refuse_demo_key  # noqa: E402  (settings ready)

refuse_demo_key()
freeze_after_warm_up()
