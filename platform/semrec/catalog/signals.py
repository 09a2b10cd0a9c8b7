"""Signals that the catalogue sends, so other apps can react without the catalogue importing them."""

from django.dispatch import Signal

# Sent after items were created or updated, with ``tenant`` and ``item_pks``
# (the primary keys of every item in the batch, changed or not).
items_saved = Signal()
