"""Importers for public recommendation datasets."""
