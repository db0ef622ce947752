"""Loaded with `-p tests.db_plugin` before pytest-django configures Django.

With no DATABASE_URL, boot an embedded Postgres (with pgvector) in a temporary directory, once per
run, deleted when the run ends. Settings read DATABASE_URL at import, so this must happen first.
"""

from __future__ import annotations

import os
import tempfile

if not os.environ.get("DATABASE_URL"):
    from hector_site import embedded_pg

    _data_dir = tempfile.mkdtemp(prefix="hector-test-")
    os.environ["HECTOR_DATA_DIR"] = _data_dir
    os.environ["DATABASE_URL"] = embedded_pg.boot(_data_dir, cleanup="delete")
else:
    os.environ.setdefault("HECTOR_DATA_DIR", tempfile.mkdtemp(prefix="hector-test-"))

os.environ.setdefault("HECTOR_SECRET_KEY", "test-secret-key-not-for-production")

# No test may reach a real LLM provider: the factory refuses anything but loopback fakes.
os.environ["HECTOR_LLM_LOOPBACK_ONLY"] = "1"
