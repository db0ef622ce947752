"""`POST /agents/<name>`: envelope, version selection, dispatch and every error of SPEC 7.9/7.10."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from a2a.compat.v0_3 import types as v03
from a2a.types import a2a_pb2 as pb
from google.protobuf.json_format import ParseDict

from agents.tasks import UnsupportedOperation
from apps.a2a_server import rpc as rpc_module
from tests.apps.a2a_server.conftest import (
    APP_ID,
    Apps,
    FakeTaskService,
    make_task,
    message,
    rpc,
)

pytestmark = pytest.mark.django_db(transaction=False)

V10 = {"A2A-Version": "1.0"}
AGENT = f"/apps/{APP_ID}/agents/assistant"


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"jsonrpc", "id", "error"}
    assert set(body["error"]) <= {"code", "message", "data"}  # SPEC 7.10: nothing else
    return body["error"]


# --- AC 7.a and dispatch ------------------------------------------------------------------------


async def test_message_send_v03_returns_the_task(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(AGENT, json=rpc("message/send", {"message": message()}))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == 1
    result = body["result"]
    assert result["kind"] == "task"
    assert result["status"]["state"] == "completed"
    assert result["contextId"] == "ctx-1"
    assert result["artifacts"][0]["parts"] == [{"kind": "text", "text": "Hello!"}]
    v03.Task.model_validate(result)
    (name, kwargs), *_ = service.calls
    assert name == "send"
    assert kwargs["agent"] == "assistant"
    assert kwargs["blocking"] is True
    assert kwargs["wire_version"] == "0.3"
    assert kwargs["message"].parts[0].text == "Hello"
    assert service.app_id == APP_ID


async def test_send_message_v10_wraps_the_task(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    params = {
        "message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "Hello"}]},
        "configuration": {"returnImmediately": True, "historyLength": 0},
    }
    response = await client.post(AGENT, json=rpc("SendMessage", params), headers=V10)
    result = response.json()["result"]
    assert result["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    ParseDict(result, pb.SendMessageResponse())
    kwargs = service.calls[0][1]
    assert (kwargs["blocking"], kwargs["history_length"], kwargs["wire_version"]) == (
        False,
        0,
        "1.0",
    )


async def test_pascal_case_method_selects_v10_without_header(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(AGENT, json=rpc("GetTask", {"id": "task-1"}))
    assert response.json()["result"]["status"]["state"] == "TASK_STATE_COMPLETED"


async def test_v03_method_with_v10_header_answers_in_v10(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(AGENT, json=rpc("tasks/get", {"id": "task-1"}), headers=V10)
    result = response.json()["result"]
    assert "kind" not in result
    assert result["status"]["state"] == "TASK_STATE_COMPLETED"


@pytest.mark.parametrize("header", ["0.3", "0.3.0", ""])
async def test_v03_header_or_empty_means_v03(
    client: httpx.AsyncClient, service: FakeTaskService, header: str
) -> None:
    response = await client.post(
        AGENT, json=rpc("tasks/get", {"id": "task-1"}), headers={"A2A-Version": header}
    )
    assert response.json()["result"]["kind"] == "task"


async def test_deprecated_colon_alias(client: httpx.AsyncClient, service: FakeTaskService) -> None:
    response = await client.post(AGENT, json=rpc("message:send", {"message": message()}))
    assert response.json()["result"]["kind"] == "task"


async def test_trailing_slash_is_the_same_endpoint_never_a_redirect(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(AGENT + "/", json=rpc("message/send", {"message": message()}))
    assert response.status_code == 200
    assert response.json()["result"]["kind"] == "task"


async def test_default_app_without_prefix(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post("/agents/assistant", json=rpc("tasks/get", {"id": "task-1"}))
    assert response.status_code == 200
    assert service.app_id == "default"


async def test_get_passes_history_length(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    await client.post(AGENT, json=rpc("tasks/get", {"id": "task-1", "historyLength": 3}))
    assert service.calls[0] == (
        "get",
        {"task_id": "task-1", "user_id": "default", "history_length": 3},
    )


async def test_list_tasks_in_both_versions(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    params = {"contextId": "ctx-1", "status": "completed", "pageSize": 10}
    old = (await client.post(AGENT, json=rpc("tasks/list", params))).json()["result"]
    assert old["pageSize"] == 1
    assert old["tasks"][0]["kind"] == "task"
    assert "artifacts" not in old["tasks"][0]
    new = (
        await client.post(AGENT, json=rpc("ListTasks", {"includeArtifacts": True}), headers=V10)
    ).json()["result"]
    ParseDict(new, pb.ListTasksResponse())
    assert new["tasks"][0]["artifacts"]
    kwargs = service.calls[0][1]
    assert (kwargs["context_id"], kwargs["state"], kwargs["page_size"]) == (
        "ctx-1",
        "completed",
        10,
    )


async def test_cancel_of_a_running_task(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    service.tasks["task-2"] = make_task("working", task_id="task-2")
    response = await client.post(AGENT, json=rpc("tasks/cancel", {"id": "task-2"}))
    assert response.json()["result"]["status"]["state"] == "canceled"


async def test_push_config_methods_v03(client: httpx.AsyncClient, service: FakeTaskService) -> None:
    config = {"id": "cfg", "url": "https://hooks.example.com/x", "token": "tok"}
    set_result = (
        await client.post(
            AGENT,
            json=rpc(
                "tasks/pushNotificationConfig/set",
                {"taskId": "task-1", "pushNotificationConfig": config},
            ),
        )
    ).json()["result"]
    v03.TaskPushNotificationConfig.model_validate(set_result)
    assert set_result["pushNotificationConfig"]["url"] == config["url"]
    got = (
        await client.post(
            AGENT,
            json=rpc(
                "tasks/pushNotificationConfig/get",
                {"id": "task-1", "pushNotificationConfigId": "cfg"},
            ),
        )
    ).json()["result"]
    assert got == set_result
    listed = (
        await client.post(AGENT, json=rpc("tasks/pushNotificationConfig/list", {"id": "task-1"}))
    ).json()["result"]
    assert listed == [set_result]
    deleted = (
        await client.post(
            AGENT,
            json=rpc(
                "tasks/pushNotificationConfig/delete",
                {"id": "task-1", "pushNotificationConfigId": "cfg"},
            ),
        )
    ).json()
    assert deleted == {"jsonrpc": "2.0", "id": 1, "result": None}
    assert service.push_configs == {}


async def test_push_config_methods_v10(client: httpx.AsyncClient, service: FakeTaskService) -> None:
    params = {"taskId": "task-1", "id": "cfg", "url": "https://hooks.example.com/x"}
    created = (
        await client.post(AGENT, json=rpc("CreateTaskPushNotificationConfig", params))
    ).json()["result"]
    ParseDict(created, pb.TaskPushNotificationConfig())
    assert service.push_configs["cfg"].wire_version == "1.0"
    listed = (
        await client.post(AGENT, json=rpc("ListTaskPushNotificationConfigs", {"taskId": "task-1"}))
    ).json()["result"]
    assert listed == {"configs": [created]}
    got = (
        await client.post(
            AGENT, json=rpc("GetTaskPushNotificationConfig", {"taskId": "task-1", "id": "cfg"})
        )
    ).json()["result"]
    assert got == created


async def test_push_config_of_someone_elses_task_is_not_found(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    params = {"taskId": "nope", "pushNotificationConfig": {"url": "https://h.example/x"}}
    response = await client.post(AGENT, json=rpc("tasks/pushNotificationConfig/set", params))
    assert error_of(response)["code"] == -32001
    assert service.calls[0][1]["user_id"] == "default"
    assert service.push_configs == {}


async def test_user_id_is_the_app_token_subject(
    client: httpx.AsyncClient, service: FakeTaskService, apps: Apps
) -> None:
    await client.post(
        "/agents/assistant",
        json=rpc("message/send", {"message": message()}),
        headers={"Authorization": f"Bearer {apps.token}"},
    )
    assert service.app_id == APP_ID
    assert service.calls[0][1]["user_id"] == f"app:{APP_ID}"


async def test_x_user_id_is_ignored_unless_trusted(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    await client.post(
        AGENT, json=rpc("message/send", {"message": message()}), headers={"X-User-ID": "mallory"}
    )
    assert service.calls[0][1]["user_id"] == "default"


def test_x_user_id_when_the_server_block_trusts_it() -> None:
    from types import SimpleNamespace

    from apps.a2a_server.catalog import ServerSettings
    from apps.a2a_server.views import user_id_for

    request: Any = SimpleNamespace(
        principal=SimpleNamespace(claims={}), headers={"X-User-ID": " alice "}
    )
    assert user_id_for(request, ServerSettings(trust_user_header=True)) == "alice"
    assert user_id_for(request, ServerSettings()) == "default"
    request.principal.claims = {"sub": "app:x"}
    assert user_id_for(request, ServerSettings(trust_user_header=True)) == "app:x"


async def test_include_thinking_is_read_from_metadata(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    params = {"message": message(), "metadata": {"include_thinking": True}}
    await client.post(AGENT, json=rpc("message/send", params))
    assert service.calls[0][1]["metadata"] == {"include_thinking": True}


async def test_file_part_outside_input_modes_is_32005(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    image = {"kind": "file", "file": {"bytes": "aGk=", "mimeType": "image/png"}}
    params = {"message": {**message(), "parts": [{"kind": "text", "text": "x"}, image]}}
    refused = await client.post(AGENT, json=rpc("message/send", params))
    error = error_of(refused)
    assert error["code"] == -32005
    assert error["data"]["fields"] == ["params.message.parts[1]"]
    accepted = await client.post(
        f"/apps/{APP_ID}/agents/quiet", json=rpc("message/send", params)
    )  # quiet takes image/*
    assert accepted.json()["result"]["kind"] == "task"


async def test_extended_card_needs_a_token(
    client: httpx.AsyncClient, service: FakeTaskService, apps: Apps
) -> None:
    anonymous = await client.post(AGENT, json=rpc("agent/getAuthenticatedExtendedCard"))
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    card = (
        await client.post(
            "/agents/assistant",
            json=rpc("GetExtendedAgentCard"),
            headers={"Authorization": f"Bearer {apps.token}"},
        )
    ).json()["result"]
    assert card["name"] == "assistant"
    assert "supportedInterfaces" in card


async def test_tool_call_cancel_route(client: httpx.AsyncClient, service: FakeTaskService) -> None:
    for path in (
        f"{AGENT}/tasks/t1/toolCalls/c1/cancel",
        f"/apps/{APP_ID}/tasks/t1/toolCalls/c1/cancel",
    ):
        response = await client.post(path)
        assert response.json() == {"cancelled": False, "task_id": "t1", "call_id": "c1"}
    assert (await client.get(f"{AGENT}/tasks/t1/toolCalls/c1/cancel")).status_code == 405


# --- Errors (SPEC 7.9, 7.10, AC 7.c) ------------------------------------------------------------


async def test_not_json_is_32700_with_null_id_and_http_200(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(
        AGENT, content=b"not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["id"] is None
    assert error_of(response)["code"] == -32700


@pytest.mark.parametrize(
    "body",
    [
        {"id": 1, "method": "message/send"},  # no jsonrpc
        {"jsonrpc": "1.0", "id": 1, "method": "message/send"},
        {"jsonrpc": "2.0", "id": 1},  # no method
        {"jsonrpc": "2.0", "id": 1, "method": 7},
        {"jsonrpc": "2.0", "id": True, "method": "tasks/get"},
        {"jsonrpc": "2.0", "id": {"x": 1}, "method": "tasks/get"},
        "just a string",
        42,
    ],
)
async def test_not_a_jsonrpc_request_is_32600(
    client: httpx.AsyncClient, service: FakeTaskService, body: Any
) -> None:
    response = await client.post(AGENT, json=body)
    assert response.status_code == 200
    assert error_of(response)["code"] == -32600
    assert service.calls == []


async def test_batch_requests_are_refused(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(AGENT, json=[rpc("tasks/get", {"id": "task-1"})])
    assert response.json()["id"] is None
    assert error_of(response)["code"] == -32600
    assert "Batch" in error_of(response)["message"]


async def test_oversized_body_is_413_payload_too_large(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    padding = "x" * (10 * 1024 * 1024)
    body = json.dumps(rpc("message/send", {"message": message(padding)}))
    response = await client.post(AGENT, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == -32600
    assert error["data"]["reason"] == "payload_too_large"
    assert service.calls == []


async def test_unknown_method_is_32601_with_the_id(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(AGENT, json=rpc("message/sen", rpc_id="abc"))
    assert response.json()["id"] == "abc"
    assert error_of(response)["code"] == -32601


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("message/send", {}, "params.message"),
        ("message/send", {"message": {"role": "user", "parts": []}}, "params.message.messageId"),
        (
            "SendMessage",
            {"message": {"messageId": "m", "parts": [{"text": "x"}]}},
            "params.message.role",
        ),
        ("message/send", {"message": {"messageId": "m", "role": "user"}}, "params.message.parts"),
        (
            "message/send",
            {"message": {"messageId": "m", "role": "user", "parts": [{"kind": "audio"}]}},
            "params.message.parts[0].kind",
        ),
        ("tasks/get", {}, "params.id"),
        ("tasks/get", {"id": "task-1", "historyLength": "all"}, "params.historyLength"),
        ("tasks/list", {"status": "sleeping"}, "params.status"),
        ("ListTasks", {"status": "TASK_STATE_NAPPING"}, "params.status"),
        ("tasks/cancel", {"id": 5}, "params.id"),
        ("tasks/pushNotificationConfig/set", {"taskId": "task-1"}, "params.url"),
    ],
)
async def test_invalid_params_name_the_field(
    client: httpx.AsyncClient, service: FakeTaskService, method: str, params: Any, field: str
) -> None:
    response = await client.post(AGENT, json=rpc(method, params))
    error = error_of(response)
    assert error["code"] == -32602
    assert error["data"]["fields"] == [field]


async def test_params_must_be_an_object(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(AGENT, json={**rpc("tasks/get"), "params": ["task-1"]})
    assert error_of(response)["code"] == -32602


async def test_unknown_task_is_32001(client: httpx.AsyncClient, service: FakeTaskService) -> None:
    response = await client.post(AGENT, json=rpc("tasks/get", {"id": "missing"}))
    error = error_of(response)
    assert error["code"] == -32001
    assert error["data"] == {"taskId": "missing"}


async def test_cancel_of_a_completed_task_is_32002(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(AGENT, json=rpc("tasks/cancel", {"id": "task-1"}))
    assert error_of(response)["code"] == -32002


async def test_service_errors_keep_their_code_and_data(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    service.fail_with = UnsupportedOperation("Task is terminal", data={"reason": "task_terminal"})
    response = await client.post(AGENT, json=rpc("message/send", {"message": message()}))
    assert error_of(response) == {
        "code": -32004,
        "message": "Task is terminal",
        "data": {"reason": "task_terminal"},
    }


async def test_internal_errors_are_32603_and_not_leaked(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    service.fail_with = RuntimeError("password=hunter2")
    response = await client.post(AGENT, json=rpc("message/send", {"message": message()}))
    error = error_of(response)
    assert error == {"code": -32603, "message": "Internal error"}
    assert "hunter2" not in response.text


@pytest.mark.parametrize("header", ["2.0", "99.0", "banana"])
async def test_unsupported_version_header_is_32009(
    client: httpx.AsyncClient, service: FakeTaskService, header: str
) -> None:
    response = await client.post(
        AGENT, json=rpc("message/send", {"message": message()}), headers={"A2A-Version": header}
    )
    assert response.json()["id"] == 1
    assert error_of(response)["code"] == -32009
    assert service.calls == []


@pytest.mark.parametrize(("headers", "code"), [({}, -32700), (V10, -32005)])
async def test_non_json_content_type(
    client: httpx.AsyncClient,
    service: FakeTaskService,
    headers: dict[str, str],
    code: int,
) -> None:
    response = await client.post(
        AGENT,
        content=json.dumps(rpc("message/send", {"message": message()})),
        headers={"Content-Type": "text/plain", **headers},
    )
    assert response.status_code == 200
    assert error_of(response)["code"] == code
    assert service.calls == []


async def test_json_content_types_are_accepted(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    for content_type in ("application/json; charset=utf-8", "application/a2a+json"):
        response = await client.post(
            AGENT,
            content=json.dumps(rpc("tasks/get", {"id": "task-1"})),
            headers={"Content-Type": content_type},
        )
        assert "result" in response.json(), content_type


async def test_unknown_agent_is_404_json_not_jsonrpc(
    client: httpx.AsyncClient, service: FakeTaskService
) -> None:
    response = await client.post(
        f"/apps/{APP_ID}/agents/nobody", json=rpc("message/send", {"message": message()})
    )
    assert response.status_code == 404
    assert response.json() == {"error": 'agent "nobody" not found'}


async def test_private_agent_is_404_even_with_a_token(
    client: httpx.AsyncClient, service: FakeTaskService, apps: Apps
) -> None:
    response = await client.post(
        "/agents/secret",
        json=rpc("message/send", {"message": message()}),
        headers={"Authorization": f"Bearer {apps.token}"},
    )
    assert response.status_code == 404
    assert response.json() == {"error": 'agent "secret" not found'}


async def test_internal_agent_needs_a_token(
    client: httpx.AsyncClient, service: FakeTaskService, apps: Apps
) -> None:
    anonymous = await client.post(
        f"/apps/{APP_ID}/agents/staff", json=rpc("message/send", {"message": message()})
    )
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert service.calls == []
    with_token = await client.post(
        "/agents/staff",
        json=rpc("message/send", {"message": message()}),
        headers={"Authorization": f"Bearer {apps.token}"},
    )
    assert with_token.json()["result"]["kind"] == "task"


async def test_another_apps_token_cannot_reach_this_apps_agent(
    client: httpx.AsyncClient, service: FakeTaskService, apps: Apps
) -> None:
    response = await client.post(
        "/agents/assistant",
        json=rpc("message/send", {"message": message()}),
        headers={"Authorization": f"Bearer {apps.other_token}"},
    )
    assert response.status_code == 404
    assert service.calls == []


def test_every_v03_method_has_a_v10_twin() -> None:
    old = {h for name, h in rpc_module.V03_METHODS.items() if ":" not in name}
    assert old == set(rpc_module.V10_METHODS.values())
    assert len(rpc_module.V10_METHODS) == 11
