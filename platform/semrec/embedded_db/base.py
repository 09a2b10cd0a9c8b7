"""Django database backend ``semrec.embedded_db``: PostgreSQL, started on demand."""

from django.db.backends.postgresql import base as postgresql

from .server import ensure_database, ensure_server, socket_dir


class DatabaseWrapper(postgresql.DatabaseWrapper):
    """The stock PostgreSQL backend, pointed at the embedded server's socket."""

    def get_connection_params(self):
        server = ensure_server(self.settings_dict["DATA_DIR"])
        self.settings_dict["HOST"] = socket_dir(server)
        self.settings_dict["PORT"] = ""
        name = self.settings_dict.get("NAME")
        if name and name != "postgres" and not self.settings_dict.get("_EMBEDDED_DB_READY"):
            # Test databases are created by Django itself; only the main one
            # needs creating here.
            if not name.startswith("test_"):
                ensure_database(server, name)
            self.settings_dict["_EMBEDDED_DB_READY"] = True
        return super().get_connection_params()
