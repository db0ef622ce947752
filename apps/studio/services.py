"""Config changes made in the Studio: YAML saves, rollbacks, resource forms and flow-view edges.

Each builds a whole new lean document and hands it to `apps.tenancy.services.update_app`, the path
the Admin API takes too, so it is validated, stored as a new immutable revision and picked up by
the runtime on the next request. Nothing is written when validation fails. The `server` block is
file-only (SPEC 2.5): a document that changes it is refused.

The `default` app is seeded from the config file; its Studio edits are written back to that file
when it is writable (SPEC 17.17), after the revision is stored, so the file watcher finds nothing
new and the two never diverge.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml
from django.conf import settings

from agents.config_loader import ConfigError, load_config, load_config_file
from apps.configs.models import ConfigRevision
from apps.configs.services import config_error
from apps.tenancy import services as tenancy
from apps.tenancy.models import App
from hector_site.errors import BadRequest, Forbidden, NotFound

logger = logging.getLogger(__name__)

#: Sections the resource forms edit, with the singular a person reads in messages.
SECTIONS: Final[dict[str, str]] = {
    "llms": "LLM provider",
    "tools": "tool",
    "guardrails": "guardrail set",
    "agents": "agent",
}
#: Agent keys that point at other agents or tools: the flow view's editable edges.
REFERENCE_KEYS: Final[tuple[str, ...]] = ("sub_agents", "agent_tools", "tools")
MAX_COMMENT = 200


# --- Reading ----------------------------------------------------------------------------------


def lean_config(app: App) -> dict[str, Any]:
    document = json.loads(app.config_json or "{}")
    return document if isinstance(document, dict) else {}


class _BlockStrings(yaml.SafeDumper):
    """Multi-line strings (instructions, prompts) as `|` blocks, as a person writes them."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not value.startswith(" ") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStrings.add_representer(str, _represent_str)


def to_yaml(document: Mapping[str, Any]) -> str:
    if not document:
        return ""
    return yaml.dump(
        dict(document), Dumper=_BlockStrings, sort_keys=False, allow_unicode=True, width=100
    )


def config_file(app: App) -> Path | None:
    """The file the `default` app is seeded from, when there is one."""
    if not app.is_default:
        return None
    path = Path(settings.HECTOR_CONFIG)
    return path if path.is_file() else None


def editor_text(app: App) -> str:
    """The active config as YAML. For the `default` app, the file itself while it says the same
    thing, so its comments and layout survive a round trip through the editor."""
    lean = lean_config(app)
    path = config_file(app)
    if path is not None:
        try:
            if load_config_file(path).lean == lean:
                return path.read_text(encoding="utf-8")
        except (ConfigError, OSError, UnicodeDecodeError):
            pass
    return to_yaml(lean)


def base_dir(app: App) -> Path:
    """Where relative `instruction_file` paths point (as the runtime resolves them)."""
    if app.is_default:
        return Path(settings.HECTOR_CONFIG).parent
    return Path(settings.DATA_DIR) / "apps" / app.id


# --- Saving -----------------------------------------------------------------------------------


def _check_server_block(app: App, lean: Mapping[str, Any]) -> None:
    if lean.get("server") != lean_config(app).get("server"):
        raise Forbidden("server block is file-only")


def _store(app: App, lean: dict[str, Any], *, source: str, comment: str, text: str | None) -> App:
    _check_server_block(app, lean)
    updated = tenancy.update_app(
        app_id=app.id, config=lean, source=source, comment=comment.strip()[:MAX_COMMENT]
    )
    _write_back(updated, text if text is not None else to_yaml(lean))
    return updated


def _write_back(app: App, text: str) -> None:
    """Replace the `default` app's config file atomically; a read-only file is left alone."""
    path = config_file(app)
    if path is None or not os.access(path, os.W_OK):
        return
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        shutil.copymode(path, temporary)
        Path(temporary).replace(path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        logger.warning("could not write the config back to %s", path, exc_info=True)


def validate_text(app: App, text: str) -> dict[str, Any]:
    """The lean document of YAML text, or `BadRequest` whose details carry line and column."""
    try:
        loaded = load_config(text, source="config.yaml", base_dir=base_dir(app))
    except ConfigError as error:
        raise config_error(error) from error
    _check_server_block(app, loaded.lean)
    return loaded.lean


def save_config_text(*, app: App, text: str, comment: str = "") -> App:
    """Store the editor's YAML as the next revision (and the default app's file)."""
    lean = validate_text(app, text)
    return _store(app, lean, source=ConfigRevision.Source.STUDIO, comment=comment, text=text)


def rollback_config(*, app: App, revision: int) -> App:
    """Make an earlier revision's config the active one again, as a new revision."""
    earlier = ConfigRevision.objects.filter(number=revision).first()
    if earlier is None:
        raise NotFound(f"Revision {revision} not found")
    lean = copy.deepcopy(earlier.config)
    comment = f"rollback to revision {revision}"
    return _store(app, lean, source=ConfigRevision.Source.ROLLBACK, comment=comment, text=None)


def put_entry(*, app: App, section: str, name: str, body: Mapping[str, Any], is_new: bool) -> App:
    """Add (`is_new`) or replace `<section>.<name>`; other entries keep their order."""
    _check_section(section)
    lean = lean_config(app)
    entries = dict(lean.get(section) or {})
    if is_new and name in entries:
        raise BadRequest(f'{section}.{name}: a {SECTIONS[section]} named "{name}" already exists')
    if not is_new and name not in entries:
        raise NotFound(f'{SECTIONS[section].capitalize()} "{name}" not found')
    entries[name] = dict(body)
    lean[section] = entries
    verb = "add" if is_new else "edit"
    return _store(app, lean, source="studio", comment=f"{verb} {section}.{name}", text=None)


def delete_entry(*, app: App, section: str, name: str) -> App:
    """Remove an entry; still-referenced entries fail validation, naming the reference."""
    _check_section(section)
    lean = lean_config(app)
    entries = dict(lean.get(section) or {})
    if name not in entries:
        raise NotFound(f'{SECTIONS[section].capitalize()} "{name}" not found')
    del entries[name]
    if entries:
        lean[section] = entries
    else:
        lean.pop(section, None)
    return _store(app, lean, source="studio", comment=f"delete {section}.{name}", text=None)


def set_reference(*, app: App, agent: str, key: str, target: str, present: bool) -> App:
    """Add (or remove) `target` in `agents.<agent>.<key>`: one edge of the flow view."""
    if key not in REFERENCE_KEYS:
        raise BadRequest(f"key: must be one of {', '.join(REFERENCE_KEYS)}")
    lean = lean_config(app)
    agents = dict(lean.get("agents") or {})
    if agent not in agents:
        raise NotFound(f'Agent "{agent}" not found')
    entry = dict(agents[agent] or {})
    targets = list(entry.get(key) or [])
    if present and target not in targets:
        targets.append(target)
    elif not present and target in targets:
        targets.remove(target)
    else:
        return app  # nothing changes: no new revision
    if targets:
        entry[key] = targets
    else:
        entry.pop(key, None)
    agents[agent] = entry
    lean["agents"] = agents
    verb = "link" if present else "unlink"
    comment = f"{verb} agents.{agent}.{key} {target}"
    return _store(app, lean, source="studio", comment=comment, text=None)


def _check_section(section: str) -> None:
    if section not in SECTIONS:
        raise NotFound(f'Unknown section "{section}"')
