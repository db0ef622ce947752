"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

import django
from channels.routing import ProtocolTypeRouter, URLRouter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hector_site.settings")
django.setup(set_prefix=False)

from hector_site.lean_asgi import HectorASGIHandler  # noqa: E402  (needs Django set up first)

django_asgi = HectorASGIHandler()

from hector_site.routing import websocket_urlpatterns  # noqa: E402  (needs Django set up first)

application = ProtocolTypeRouter(
    {
        "http": django_asgi,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
