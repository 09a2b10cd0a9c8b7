"""A small handmade catalogue with three clear themes, for tests.

Users ``space-fan`` and ``cook`` have histories inside one theme each;
``newcomer`` has none. Items ``space-*`` are about space travel,
``cook-*`` about cooking and ``jazz-*`` about jazz music.
"""

from datetime import datetime, timedelta, timezone

from semrec.catalog import ingest, validation

ITEMS = [
    ("space-1", "Rocket to Mars", "A crew flies a rocket to Mars and builds a base.", ["Sci-Fi"]),
    ("space-2", "Orbit", "Astronauts repair a space station in low Earth orbit.", ["Sci-Fi"]),
    ("space-3", "The Moon Landing", "The Apollo astronauts land on the Moon.", ["Sci-Fi", "History"]),
    ("space-4", "Galaxy Explorers", "A starship explores distant galaxies and alien planets.", ["Sci-Fi"]),
    ("space-5", "Saturn Rings", "A probe studies the rings and moons of Saturn.", ["Sci-Fi", "Documentary"]),
    ("space-6", "Launch Day", "Engineers prepare a spacecraft launch from the pad.", ["Sci-Fi"]),
    ("cook-1", "Pasta Night", "Cooking fresh pasta with tomato sauce and basil.", ["Cooking"]),
    ("cook-2", "Baking Bread", "Kneading dough and baking sourdough bread at home.", ["Cooking"]),
    ("cook-3", "Curry Kitchen", "Spices, onions and slow-cooked chicken curry recipes.", ["Cooking"]),
    ("cook-4", "Sushi Master", "A chef slices fish and rolls sushi rice.", ["Cooking"]),
    ("cook-5", "Soup Season", "Warm vegetable soups and broths for winter dinners.", ["Cooking"]),
    ("cook-6", "Dessert Lab", "Chocolate cakes, pastries and sweet dessert recipes.", ["Cooking"]),
    ("jazz-1", "Blue Saxophone", "A jazz saxophonist improvises in a late-night club.", ["Music"]),
    ("jazz-2", "Piano Trio", "Jazz piano, double bass and drums play standards.", ["Music"]),
    ("jazz-3", "Swing Era", "Big band swing music and dancers of the 1930s.", ["Music", "History"]),
    ("jazz-4", "Trumpet Solo", "A trumpet player records a bebop jazz album.", ["Music"]),
]

SPACE_FAN_HISTORY = ["space-1", "space-2", "space-3"]
COOK_HISTORY = ["cook-1", "cook-2", "cook-3", "cook-4"]


def item_rows() -> list[dict]:
    rows = [{"id": i, "title": t, "description": d, "categories": c} for i, t, d, c in ITEMS]
    clean, errors = validation.validate_items(rows, 10_000)
    assert not errors, errors.errors
    return clean


def event_rows() -> list[dict]:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    raw = []
    histories = {"space-fan": SPACE_FAN_HISTORY, "cook": COOK_HISTORY}
    # Extra users make popularity and collaborative filtering meaningful:
    # the crowd likes cooking, and space fans also watch space-4.
    for index in range(6):
        histories[f"crowd-{index}"] = ["cook-5", "cook-6", "cook-1", "jazz-1"]
    for index in range(3):
        histories[f"astro-{index}"] = ["space-1", "space-2", "space-4", "space-5"]
    for user, items in histories.items():
        for offset, item in enumerate(items):
            raw.append(
                {
                    "user_id": user,
                    "item_id": item,
                    "kind": "purchase",
                    "timestamp": (start + timedelta(days=offset)).isoformat(),
                    "idempotency_key": f"{user}:{item}",
                }
            )
    clean, errors = validation.validate_events(raw, 10_000, start)
    assert not errors, errors.errors
    return clean


def load_catalogue(tenant) -> None:
    """Write the catalogue's items and events into ``tenant``."""
    ingest.upsert_items(tenant, item_rows())
    events = event_rows()
    errors = validation.BatchErrors()
    item_pks = ingest.resolve_event_references(tenant, events, errors)
    assert not errors, errors.errors
    ingest.insert_events(tenant, events, item_pks)
