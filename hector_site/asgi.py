"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hector_site.settings")
django_asgi = get_asgi_application()

from hector_site.routing import websocket_urlpatterns  # noqa: E402  (needs Django set up first)

application = ProtocolTypeRouter(
    {
        "http": django_asgi,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
