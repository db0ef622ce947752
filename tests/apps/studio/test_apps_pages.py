"""Apps in the Studio: the switcher picks the schema every page (and the admin) works in;
creating an app or a new token shows the token once."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.studio.views import landing_after_switch
from apps.tenancy.models import App
from tests.apps.studio.conftest import select


def test_pages_need_the_studio_session(anon_client: Client) -> None:
    for path in (
        "/studio/",
        "/studio/apps/",
        "/studio/config/",
        "/studio/flow/",
        "/studio/sessions/",
    ):
        response = anon_client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/studio/login/?next=")


def test_switcher_points_pages_and_admin_at_the_selected_app(studio: Client, app: App) -> None:
    default_chat = studio.get("/studio/")
    assert b'value="assistant"' in default_chat.content or b"No agents yet" in default_chat.content

    select(studio, app.id)

    chat = studio.get("/studio/")
    assert b'<option value="helper"' in chat.content
    assert b'<option value="writer"' in chat.content
    agents = studio.get("/studio/admin/configs/agent/")
    assert b"helper" in agents.content
    assert b"studio-test" in agents.content  # the admin says which app it shows
    revisions = studio.get("/studio/admin/configs/configrevision/")
    assert revisions.status_code == 200


def test_selecting_an_unknown_app_is_an_error_message(studio: Client) -> None:
    response = studio.post("/studio/apps/select/", {"app": "nope"}, follow=True)
    assert b"App not found" in response.content


def test_switch_lands_on_the_list_of_an_object_page() -> None:
    assert landing_after_switch("/studio/sessions/abc/") == "/studio/sessions/"
    assert landing_after_switch("/studio/admin/tasks/task/x/change/") == "/studio/admin/tasks/task/"
    assert landing_after_switch("/studio/flow/?x=1") == "/studio/flow/"


def test_creating_an_app_shows_its_token_once_and_selects_it(studio: Client) -> None:
    response = studio.post("/studio/apps/", {"name": "Support desk", "id": "support"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = response.context["token"]
    assert token.count(".") == 2
    assert token.encode() in response.content
    assert App.objects.filter(pk="support").exists()

    listing = studio.get("/studio/apps/")
    assert token.encode() not in listing.content
    assert b'<span class="badge">selected</span>' in listing.content
    assert listing.context["studio_app"].id == "support"


def test_bad_app_id_names_the_field(studio: Client) -> None:
    response = studio.post("/studio/apps/", {"name": "x", "id": "Not_Valid"})
    assert response.status_code == 400
    assert "id" in response.context["form"].errors
    assert b"Use lowercase letters" in response.content


def test_duplicate_app_id_is_refused_on_the_id_field(studio: Client, app: App) -> None:
    response = studio.post("/studio/apps/", {"name": "other name", "id": app.id})
    assert response.status_code == 400
    assert "already exists" in response.context["form"].errors["id"][0]


def test_new_token_revokes_older_ones(studio: Client, app: App) -> None:
    before = app.token_version
    response = studio.post(f"/studio/apps/{app.id}/token/")
    assert response.status_code == 200
    assert response.context["token"].count(".") == 2
    app.refresh_from_db()
    assert app.token_version == before + 1


def test_default_app_cannot_be_deleted(studio: Client) -> None:
    response = studio.post("/studio/apps/default/delete/", follow=True)
    assert b"Cannot delete the default app" in response.content
    assert App.objects.filter(pk="default").exists()


def test_deleting_the_selected_app_falls_back_to_default(studio: Client, app: App) -> None:
    select(studio, app.id)
    response = studio.post(f"/studio/apps/{app.id}/delete/", follow=True)
    assert b"deleted" in response.content
    assert not App.objects.filter(pk=app.id).exists()
    assert studio.get("/studio/flow/").context["studio_app"].id == "default"


def test_admin_add_app_shows_the_token_once(studio: Client) -> None:
    form = studio.get("/studio/admin/tenancy/app/add/")
    assert form.status_code == 200
    response = studio.post(
        "/studio/admin/tenancy/app/add/", {"name": "From admin", "id": "from-admin"}
    )
    assert response.status_code == 200
    assert b"shown only now" in response.content
    [(created, token)] = response.context["tokens"]
    assert created.id == "from-admin"
    assert token.count(".") == 2


def test_admin_regenerate_token_action(studio: Client, app: App) -> None:
    response = studio.post(
        "/studio/admin/tenancy/app/",
        {"action": "regenerate_tokens", "_selected_action": [app.id]},
    )
    assert response.status_code == 200
    [(renewed, token)] = response.context["tokens"]
    assert renewed.id == app.id
    assert token.count(".") == 2
    app.refresh_from_db()
    assert app.token_version == 2


@pytest.mark.parametrize(
    "path",
    [
        "/studio/admin/",
        "/studio/admin/tenancy/app/",
        "/studio/admin/configs/configrevision/",
        "/studio/admin/conversations/session/",
        "/studio/admin/tasks/task/",
    ],
)
def test_admin_pages_wear_the_studio_top_bar(selected: Client, path: str) -> None:
    response = selected.get(path)
    assert response.status_code == 200
    assert b'class="topbar"' in response.content
    assert b"studio/admin.css" in response.content
