"""pgvector in an `extensions` schema that every app schema has on its search_path."""

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, migrations


def create_extensions(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        if cursor.fetchone():
            cursor.execute("CREATE SCHEMA IF NOT EXISTS extensions")
            return
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        if not cursor.fetchone():
            raise ImproperlyConfigured(
                'the Postgres extension "vector" (pgvector) is not installed on this server: '
                "install pgvector, or omit --database to use the embedded Postgres"
            )
        try:
            cursor.execute("SAVEPOINT hector_ext")
            cursor.execute("CREATE SCHEMA IF NOT EXISTS extensions")
            cursor.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA extensions")
            cursor.execute("RELEASE SAVEPOINT hector_ext")
        except DatabaseError as exc:
            cursor.execute("ROLLBACK TO SAVEPOINT hector_ext")
            raise ImproperlyConfigured(
                'cannot create the Postgres extension "vector" (pgvector): '
                f"{exc}. Ask a database administrator to run: "
                "CREATE SCHEMA extensions; CREATE EXTENSION vector SCHEMA extensions;"
            ) from exc


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.RunPython(create_extensions, migrations.RunPython.noop)]
