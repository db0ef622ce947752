"""Websocket routes. Each route carries the middleware it needs: the Studio chat needs the
session cookie (Django's session and user), nothing else does."""

from channels.auth import AuthMiddlewareStack
from django.urls import URLPattern, path

from apps.studio.consumers import ChatConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/studio/chat", AuthMiddlewareStack(ChatConsumer.as_asgi())),
]
