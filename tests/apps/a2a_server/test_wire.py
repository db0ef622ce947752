"""Wire formats of both versions against the a2a-sdk's own types (SPEC 7.5).

Every rendered shape must (1) validate as the SDK's v0.3 pydantic model and dump back to exactly the
same JSON (an extra or misspelt key would be dropped and fail the comparison), (2) parse as the
SDK's v1.0 protobuf message with unknown fields refused, and (3) agree with the SDK's own v0.3 ->
v1.0 conversion of the same object. Parsing is checked on JSON the SDK produced.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from a2a.compat.v0_3 import conversions
from a2a.compat.v0_3 import types as v03
from a2a.types import a2a_pb2 as pb
from google.protobuf.json_format import MessageToDict, ParseDict

from agents.content import (
    DataPart,
    FilePart,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from agents.tasks import (
    ArtifactUpdate,
    InvalidParams,
    PushConfig,
    StatusUpdate,
    Task,
    TaskArtifact,
    TaskMessage,
    TaskPage,
    TaskStatus,
)
from apps.a2a_server import wire

NOW = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
STATES = (
    "submitted",
    "working",
    "input-required",
    "auth-required",
    "completed",
    "canceled",
    "failed",
    "rejected",
    "unknown",
)
PARTS: dict[str, Part] = {
    "text": TextPart("Hello"),
    "file_bytes": FilePart("image/png", data=b"\x89PNG\r\n", name="dot.png"),
    "file_uri": FilePart("application/pdf", uri="https://example.com/a.pdf", name="a.pdf"),
    "file_unnamed": FilePart("text/csv", data=b"a,b\n1,2\n"),
    "data": DataPart({"answer": 42, "nested": {"list": [1, "two", None, True]}}),
    "thinking": ThinkingPart("Let me think", signature="sig"),
    "tool_call": ToolCallPart("call_1", "search", {"query": "weather", "limit": 3}),
    "tool_result": ToolResultPart("call_1", "search", {"hits": ["sunny"]}, is_error=False),
    "tool_error": ToolResultPart("call_2", "search", "boom", is_error=True),
}


def v03_same(model: type[Any], body: dict[str, Any]) -> Any:
    """Validate as the SDK's v0.3 model; dumping it back must give exactly `body`."""
    parsed = model.model_validate(body)
    assert parsed.model_dump(by_alias=True, exclude_none=True, mode="json") == body
    return parsed


def v10_parse(message: type[Any], body: dict[str, Any]) -> Any:
    """Parse as the SDK's v1.0 protobuf message; unknown fields are refused."""
    return ParseDict(body, message(), ignore_unknown_fields=False)


def agent_message(*parts: Part, message_id: str = "m-agent") -> TaskMessage:
    return TaskMessage(
        message_id=message_id,
        role="agent",
        parts=parts,
        context_id="ctx-1",
        task_id="task-1",
    )


def full_task(state: str = "completed") -> Task:
    user = TaskMessage(
        message_id="m-user",
        role="user",
        parts=(TextPart("Hi"), PARTS["file_bytes"], PARTS["data"]),
        context_id="ctx-1",
        task_id="task-1",
        reference_task_ids=("task-0",),
        metadata={"include_thinking": True},
        extensions=("https://example.com/ext",),
    )
    return Task(
        id="task-1",
        context_id="ctx-1",
        agent="assistant",
        user_id="default",
        status=TaskStatus(state, NOW, agent_message(TextPart("Done"), message_id="m-status")),  # type: ignore[arg-type]
        history=(user, agent_message(*PARTS.values())),
        artifacts=(
            TaskArtifact(
                "response",
                (TextPart("Hello "), TextPart("world")),
                name="response",
                description="The answer",
                metadata={"hector:agent": "assistant"},
            ),
        ),
        metadata={"hector:agent": "assistant"},
    )


# --- Parts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(PARTS))
def test_every_part_kind_renders_as_the_sdk_types_of_both_versions(kind: str) -> None:
    part = PARTS[kind]
    old = v03_same(v03.Part, wire.part_json(part, "0.3"))
    new_body = wire.part_json(part, "1.0")
    new = v10_parse(pb.Part, new_body)
    assert MessageToDict(new) == new_body
    assert conversions.to_core_part(old) == new


@pytest.mark.parametrize("kind", ["thinking", "tool_call", "tool_result", "tool_error"])
def test_hector_parts_are_data_parts_tagged_with_hector_type(kind: str) -> None:
    expected = {"tool_error": "tool_result"}.get(kind, kind)
    for version in ("0.3", "1.0"):
        body = wire.part_json(PARTS[kind], version)  # type: ignore[arg-type]
        assert body["metadata"] == {"hector_type": expected}
        assert body["data"]["hector_type"] == expected
    assert wire.part_json(PARTS["tool_call"], "1.0")["data"] == {
        "hector_type": "tool_call",
        "call_id": "call_1",
        "name": "search",
        "arguments": {"query": "weather", "limit": 3},
    }
    assert "signature" not in wire.part_json(PARTS["thinking"], "0.3")["data"]


def test_file_parts_use_each_versions_field_names() -> None:
    assert wire.part_json(PARTS["file_bytes"], "0.3") == {
        "kind": "file",
        "file": {
            "bytes": base64.b64encode(b"\x89PNG\r\n").decode(),
            "mimeType": "image/png",
            "name": "dot.png",
        },
    }
    assert wire.part_json(PARTS["file_uri"], "1.0") == {
        "url": "https://example.com/a.pdf",
        "mediaType": "application/pdf",
        "filename": "a.pdf",
    }


# --- Tasks and states ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", STATES)
def test_every_state_renders_in_both_versions(state: str) -> None:
    task = full_task(state)
    old_body = wire.task_json(task, "0.3")
    new_body = wire.task_json(task, "1.0")
    assert old_body["status"]["state"] == state
    assert new_body["status"]["state"] == wire.STATE_V10[state]
    old = v03_same(v03.Task, old_body)
    new = v10_parse(pb.Task, new_body)
    assert conversions.to_core_task(old) == new


def test_v10_states_and_roles_are_the_proto_enum_names() -> None:
    assert set(wire.STATE_V10.values()) == {v.name for v in pb.TaskState.DESCRIPTOR.values}
    body = wire.task_json(full_task(), "1.0")
    assert [m["role"] for m in body["history"]] == ["ROLE_USER", "ROLE_AGENT"]
    assert "kind" not in body
    assert all("kind" not in part for m in body["history"] for part in m["parts"])


def test_full_task_shapes() -> None:
    body = wire.task_json(full_task(), "0.3")
    assert body["kind"] == "task"
    assert body["contextId"] == "ctx-1"
    assert body["status"]["timestamp"] == "2025-03-04T05:06:07.123456Z"
    assert body["status"]["message"]["kind"] == "message"
    assert body["artifacts"][0]["parts"] == [
        {"kind": "text", "text": "Hello "},
        {"kind": "text", "text": "world"},
    ]
    assert [m["role"] for m in body["history"]] == ["user", "agent"]
    assert body["history"][0]["referenceTaskIds"] == ["task-0"]
    assert body["metadata"] == {"hector:agent": "assistant"}


def test_task_json_accepts_the_push_config_version_strings() -> None:
    assert wire.task_json(full_task(), "1.0")["status"]["state"] == "TASK_STATE_COMPLETED"
    assert wire.task_json(full_task(), "0.3")["kind"] == "task"


def test_thinking_only_when_asked() -> None:
    task = full_task()
    hidden = wire.task_json(task, "0.3")
    shown = wire.task_json(task, "0.3", include_thinking=True)
    kinds = [p.get("metadata", {}).get("hector_type") for p in hidden["history"][1]["parts"]]
    assert "thinking" not in kinds
    assert "thinking" in [
        p.get("metadata", {}).get("hector_type") for p in shown["history"][1]["parts"]
    ]
    only_thinking = Task(
        id="t",
        context_id="c",
        agent="a",
        user_id="u",
        status=TaskStatus("working", NOW),
        history=(agent_message(ThinkingPart("hmm")),),
    )
    assert "history" not in wire.task_json(only_thinking, "1.0")


def test_without_artifacts_when_listing_says_so() -> None:
    assert "artifacts" not in wire.task_json(full_task(), "1.0", include_artifacts=False)


def test_timestamps_print_like_protobuf() -> None:
    assert wire.timestamp_json(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2025-01-02T03:04:05Z"
    assert (
        wire.timestamp_json(datetime(2025, 1, 2, 3, 4, 5, 120000, tzinfo=UTC))
        == "2025-01-02T03:04:05.120Z"
    )
    for moment in (NOW, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)):
        stamp = pb.TaskStatus()
        stamp.timestamp.FromDatetime(moment)
        assert MessageToDict(stamp)["timestamp"] == wire.timestamp_json(moment)


# --- Stream events ------------------------------------------------------------------------------


@pytest.mark.parametrize("final", [False, True])
def test_status_updates(final: bool) -> None:
    update = StatusUpdate(
        "task-1",
        "ctx-1",
        TaskStatus("completed" if final else "working", NOW, agent_message(PARTS["tool_call"])),
        final=final,
        metadata={"hector:agent": "assistant"},
    )
    old_body = wire.event_json(update, "0.3")
    assert old_body is not None
    assert old_body["kind"] == "status-update"
    assert old_body["final"] is final
    old = v03_same(v03.TaskStatusUpdateEvent, old_body)
    new_body = wire.event_json(update, "1.0")
    assert new_body is not None
    assert set(new_body) == {"statusUpdate"}
    assert "final" not in new_body["statusUpdate"]
    new = v10_parse(pb.StreamResponse, new_body)
    assert conversions.to_core_task_status_update_event(old) == new.status_update


def test_artifact_updates() -> None:
    update = ArtifactUpdate(
        "task-1",
        "ctx-1",
        TaskArtifact("response", (TextPart("Hel"),), name="response"),
        append=True,
        last_chunk=True,
    )
    old_body = wire.event_json(update, "0.3")
    assert old_body == {
        "kind": "artifact-update",
        "taskId": "task-1",
        "contextId": "ctx-1",
        "artifact": {
            "artifactId": "response",
            "name": "response",
            "parts": [{"kind": "text", "text": "Hel"}],
        },
        "append": True,
        "lastChunk": True,
    }
    old = v03_same(v03.TaskArtifactUpdateEvent, old_body)
    new_body = wire.event_json(update, "1.0")
    assert new_body is not None
    new = v10_parse(pb.StreamResponse, new_body)
    assert MessageToDict(new) == new_body
    assert conversions.to_core_task_artifact_update_event(old) == new.artifact_update


def test_first_stream_event_is_the_task() -> None:
    task = full_task("submitted")
    assert wire.event_json(task, "0.3") == wire.task_json(task, "0.3")
    assert wire.event_json(task, "1.0") == {"task": wire.task_json(task, "1.0")}
    v10_parse(pb.StreamResponse, wire.event_json(task, "1.0") or {})


def test_thinking_only_updates_are_skipped_unless_asked() -> None:
    thinking = StatusUpdate("t", "c", TaskStatus("working", NOW, agent_message(ThinkingPart("x"))))
    assert wire.event_json(thinking, "0.3") is None
    assert wire.event_json(thinking, "0.3", include_thinking=True) is not None
    final = StatusUpdate(
        "t", "c", TaskStatus("completed", NOW, agent_message(ThinkingPart("x"))), final=True
    )
    body = wire.event_json(final, "0.3")
    assert body is not None
    assert body["final"] is True


def test_send_result_wraps_the_task_in_v10_only() -> None:
    task = full_task()
    assert wire.send_result_json(task, "0.3")["kind"] == "task"
    wrapped = wire.send_result_json(task, "1.0")
    v10_parse(pb.SendMessageResponse, wrapped)
    assert set(wrapped) == {"task"}


def test_task_page() -> None:
    page = TaskPage(tasks=(full_task(), full_task("working")), next_page_token="abc", total_size=7)
    body = wire.task_page_json(page, "1.0")
    assert body["pageSize"] == 2
    assert body["totalSize"] == 7
    assert body["nextPageToken"] == "abc"
    assert all("artifacts" not in task for task in body["tasks"])
    v10_parse(pb.ListTasksResponse, body)


# --- Push configs -------------------------------------------------------------------------------


def test_push_configs_in_both_versions() -> None:
    config = PushConfig(
        id="cfg-1",
        task_id="task-1",
        url="https://hooks.example.com/a2a",
        token="tok",
        authentication={"schemes": ["Bearer"], "credentials": "secret"},
    )
    old_body = wire.push_config_json(config, "0.3")
    assert old_body == {
        "taskId": "task-1",
        "pushNotificationConfig": {
            "id": "cfg-1",
            "url": "https://hooks.example.com/a2a",
            "token": "tok",
            "authentication": {"schemes": ["Bearer"], "credentials": "secret"},
        },
    }
    old = v03_same(v03.TaskPushNotificationConfig, old_body)
    new_body = wire.push_config_json(config, "1.0")
    new = v10_parse(pb.TaskPushNotificationConfig, new_body)
    assert MessageToDict(new) == new_body
    assert conversions.to_core_task_push_notification_config(old) == new


def test_push_config_parsing_reads_both_shapes() -> None:
    old = wire.parse_push_config(
        {"url": "https://h.example/x", "authentication": {"schemes": ["Bearer"]}},
        task_id="t",
        version="0.3",
        path="params.pushNotificationConfig",
    )
    new = wire.parse_push_config(
        {"id": "c", "url": "https://h.example/x", "authentication": {"scheme": "Bearer"}},
        task_id="t",
        version="1.0",
        path="params",
    )
    assert old.authentication == new.authentication == {"schemes": ["Bearer"]}
    assert old.id  # generated
    assert new.id == "c"
    assert new.wire_version == "1.0"
    with pytest.raises(InvalidParams) as error:
        wire.parse_push_config({"url": "ftp://x"}, task_id="t", version="0.3", path="params")
    assert error.value.data == {"fields": ["params.url"]}


# --- Parsing what the SDK sends -----------------------------------------------------------------


def sdk_v03_message() -> dict[str, Any]:
    message = v03.Message(
        message_id="m1",
        role=v03.Role.user,
        context_id="ctx",
        task_id="task",
        reference_task_ids=["t0"],
        metadata={"k": "v"},
        extensions=["ext"],
        parts=[
            v03.Part(root=v03.TextPart(text="Hello")),
            v03.Part(
                root=v03.FilePart(
                    file=v03.FileWithBytes(bytes="aGk=", mime_type="text/plain", name="hi.txt")
                )
            ),
            v03.Part(
                root=v03.FilePart(
                    file=v03.FileWithUri(uri="https://x/y.png", mime_type="image/png")
                )
            ),
            v03.Part(root=v03.DataPart(data={"approval_id": "a1", "decision": "approve"})),
        ],
    )
    return message.model_dump(by_alias=True, exclude_none=True, mode="json")


EXPECTED = TaskMessage(
    message_id="m1",
    role="user",
    parts=(
        TextPart("Hello"),
        FilePart("text/plain", data=b"hi", name="hi.txt"),
        FilePart("image/png", uri="https://x/y.png"),
        DataPart({"approval_id": "a1", "decision": "approve"}),
    ),
    context_id="ctx",
    task_id="task",
    reference_task_ids=("t0",),
    metadata={"k": "v"},
    extensions=("ext",),
)


def test_parses_the_sdks_v03_message_and_renders_it_back() -> None:
    body = sdk_v03_message()
    assert wire.parse_message(body) == EXPECTED
    assert wire.message_json(EXPECTED, "0.3") == body


def test_parses_the_sdks_v10_message_and_renders_it_back() -> None:
    proto = conversions.to_core_message(v03.Message.model_validate(sdk_v03_message()))
    body = MessageToDict(proto)
    assert "kind" not in body["parts"][0]
    assert body["role"] == "ROLE_USER"
    assert wire.parse_message(body) == EXPECTED
    assert wire.message_json(EXPECTED, "1.0") == body


def test_mixed_part_versions_in_one_message() -> None:
    body = {
        "messageId": "m",
        "role": "ROLE_USER",
        "parts": [{"kind": "text", "text": "a"}, {"text": "b"}, {"data": [1, 2]}],
    }
    parts = wire.parse_message(body).parts
    assert parts == (TextPart("a"), TextPart("b"), DataPart({"value": [1, 2]}))


def test_client_data_parts_never_become_thinking_or_tool_calls() -> None:
    tagged = wire.part_json(PARTS["tool_call"], "0.3")
    assert isinstance(wire.parse_part(tagged, "p"), DataPart)


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (None, "params.message"),
        ("hi", "params.message"),
        ({"role": "user", "parts": [{"kind": "text", "text": "x"}]}, "params.message.messageId"),
        ({"messageId": "m", "parts": [{"text": "x"}]}, "params.message.role"),
        ({"messageId": "m", "role": "robot", "parts": [{"text": "x"}]}, "params.message.role"),
        ({"messageId": "m", "role": "user"}, "params.message.parts"),
        ({"messageId": "m", "role": "user", "parts": []}, "params.message.parts"),
        ({"messageId": "m", "role": "user", "parts": "x"}, "params.message.parts"),
        (
            {"messageId": "m", "role": "user", "parts": [{"kind": "video", "text": "x"}]},
            "params.message.parts[0].kind",
        ),
        (
            {"messageId": "m", "role": "user", "parts": [{"text": "x"}, {"video": "x"}]},
            "params.message.parts[1]",
        ),
        (
            {"messageId": "m", "role": "user", "parts": [{"kind": "text", "text": 3}]},
            "params.message.parts[0].text",
        ),
        (
            {"messageId": "m", "role": "user", "parts": [{"raw": "not base64!!"}]},
            "params.message.parts[0].raw",
        ),
        (
            {"messageId": "m", "role": "user", "parts": [{"kind": "file", "file": {}}]},
            "params.message.parts[0].file",
        ),
        (
            {"messageId": "m", "role": "user", "parts": [{"kind": "data", "data": [1]}]},
            "params.message.parts[0].data",
        ),
        (
            {"messageId": "m", "role": "user", "parts": [{"text": "x"}], "contextId": 5},
            "params.message.contextId",
        ),
    ],
)
def test_bad_messages_name_the_field(message: Any, field: str) -> None:
    with pytest.raises(InvalidParams) as error:
        wire.parse_message(message)
    assert error.value.code == -32602
    assert error.value.data == {"fields": [field]}
    assert field in error.value.message


# --- Params -------------------------------------------------------------------------------------


MESSAGE = {"messageId": "m", "role": "user", "parts": [{"kind": "text", "text": "hi"}]}


def test_send_params_blocking_defaults_and_both_spellings() -> None:
    assert wire.parse_send_params({"message": MESSAGE}, "0.3").blocking is True
    params = {"message": MESSAGE, "configuration": {"blocking": False, "historyLength": 2}}
    parsed = wire.parse_send_params(params, "0.3")
    assert (parsed.blocking, parsed.history_length) == (False, 2)
    params = {"message": MESSAGE, "configuration": {"returnImmediately": True}}
    assert wire.parse_send_params(params, "1.0").blocking is False
    params = {"message": MESSAGE, "metadata": {"include_thinking": True}}
    assert wire.parse_send_params(params, "1.0").include_thinking is True


def test_send_params_push_config_at_send_time() -> None:
    push = {"url": "https://h.example/hook", "token": "t"}
    old = wire.parse_send_params(
        {"message": MESSAGE, "configuration": {"pushNotificationConfig": push}}, "0.3"
    )
    new = wire.parse_send_params(
        {"message": MESSAGE, "configuration": {"taskPushNotificationConfig": push}}, "1.0"
    )
    assert old.push_config is not None
    assert new.push_config is not None
    assert (old.push_config.url, old.push_config.wire_version) == (push["url"], "0.3")
    assert new.push_config.wire_version == "1.0"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "params.message"),
        (
            {"message": MESSAGE, "configuration": {"historyLength": -1}},
            "params.configuration.historyLength",
        ),
        (
            {"message": MESSAGE, "configuration": {"historyLength": "x"}},
            "params.configuration.historyLength",
        ),
        (
            {"message": MESSAGE, "configuration": {"blocking": "no"}},
            "params.configuration.blocking",
        ),
        ({"message": MESSAGE, "configuration": 3}, "params.configuration"),
        ({"message": MESSAGE, "metadata": []}, "params.metadata"),
    ],
)
def test_bad_send_params_name_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParams) as error:
        wire.parse_send_params(params, "0.3")
    assert error.value.data == {"fields": [field]}


def test_list_params() -> None:
    parsed = wire.parse_list_params(
        {
            "contextId": "c",
            "status": "TASK_STATE_WORKING",
            "pageSize": 10,
            "includeArtifacts": True,
            "statusTimestampAfter": "2025-01-01T00:00:00Z",
        }
    )
    assert parsed.state == "working"
    assert parsed.page_size == 10
    assert parsed.include_artifacts is True
    assert parsed.last_updated_after == datetime(2025, 1, 1, tzinfo=UTC)
    assert wire.parse_list_params({"status": "input-required"}).state == "input-required"
    assert wire.parse_list_params({"lastUpdatedAfter": 1_700_000_000_000}).last_updated_after
    assert wire.parse_list_params({}).page_size == 50


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "sleeping"}, "params.status"),
        ({"pageSize": 101}, "params.pageSize"),
        ({"pageSize": 0}, "params.pageSize"),
        ({"lastUpdatedAfter": "yesterday"}, "params.lastUpdatedAfter"),
    ],
)
def test_bad_list_params(params: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParams) as error:
        wire.parse_list_params(params)
    assert error.value.data == {"fields": [field]}
