"""Migration operations for pgvector."""

from django.db import DatabaseError
from pgvector.django import VectorExtension


class PgvectorUnavailable(RuntimeError):
    """The database server has no pgvector extension to create."""


class CreateVectorExtension(VectorExtension):
    """``CREATE EXTENSION vector``, failing with instructions when pgvector is missing."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        try:
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        except DatabaseError as err:
            settings = schema_editor.connection.settings_dict
            raise PgvectorUnavailable(
                f"Could not create the pgvector extension in database '{settings.get('NAME')}' "
                f"on {settings.get('HOST') or 'the local socket'}: {err}. Install pgvector on that "
                "server (https://github.com/pgvector/pgvector#installation) and run migrate again, "
                "or unset DATABASE_URL to use the embedded PostgreSQL, which includes pgvector."
            ) from err
