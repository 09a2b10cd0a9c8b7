"""Splitting events into training and held-out parts."""

from collections import Counter

import numpy as np
import pytest

from semrec.evaluation.dataset import EventTable
from semrec.evaluation.protocol import EvaluationError, parse_settings
from semrec.evaluation.splits import find_pairs, relevant_items, split_events, split_pairs


def table(rows):
    """Build an EventTable from ``(user, item, kind, value, timestamp)`` rows."""
    users, items, kinds, values, stamps = zip(*rows, strict=True)
    return EventTable(
        user_ids=np.array(users, dtype=np.int64),
        item_ids=np.array(items, dtype=np.int64),
        kinds=np.array(kinds, dtype=object),
        values=np.array([np.nan if v is None else v for v in values], dtype=np.float64),
        timestamps=np.array(stamps, dtype=np.float64),
    )


def grid(users=10, items=40, seed=0):
    """Every user rates every item once, at random times."""
    rng = np.random.default_rng(seed)
    return table([(u, i, "rating", 4.0, float(rng.integers(1_000_000))) for u in range(users) for i in range(items)])


def test_leave_last_out_holds_out_newest_pair():
    events = table([
        (1, 10, "view", None, 100), (1, 11, "view", None, 300), (1, 12, "view", None, 200),
        (2, 10, "view", None, 50),
    ])
    split = split_events(events, "leave_last_out", 0.75, seed=1)
    assert split.held_out.item_ids.tolist() == [11]
    assert split.held_out.user_ids.tolist() == [1]
    assert sorted(split.train.item_ids.tolist()) == [10, 10, 12]


def test_leave_last_out_pair_newest_event():
    # Item 10 was viewed first but purchased last, so its pair is the newest.
    events = table([(1, 10, "view", None, 100), (1, 11, "view", None, 200), (1, 10, "purchase", None, 300)])
    split = split_events(events, "leave_last_out", 0.75, seed=1)
    assert split.held_out.item_ids.tolist() == [10, 10]
    assert split.train.item_ids.tolist() == [11]


def test_pair_events_stay_together():
    rows = [(u, i, kind, None, float(t)) for t, (u, i) in enumerate((u, i) for u in range(5) for i in range(8)) for kind in ("view", "click")]
    split = split_events(table(rows), "random_by_user", 0.5, seed=3)
    train_pairs = set(zip(split.train.user_ids.tolist(), split.train.item_ids.tolist(), strict=True))
    held_pairs = set(zip(split.held_out.user_ids.tolist(), split.held_out.item_ids.tolist(), strict=True))
    assert not train_pairs & held_pairs
    assert len(split.train) == 2 * len(train_pairs)


@pytest.mark.parametrize(("protocol", "column"), [("random_by_user", "user_ids"), ("random_by_item", "item_ids")])
def test_stratified_split_keeps_share_per_group(protocol, column):
    split = split_events(grid(users=10, items=40), protocol, 0.75, seed=5)
    per_group = Counter(getattr(split.train, column).tolist())
    expected = 30 if column == "user_ids" else 8  # round(0.75 * 40) and round(0.75 * 10) = 7.5 rounded up
    assert set(per_group.values()) == {expected}


def test_random_split_keeps_share_overall():
    split = split_events(grid(users=10, items=40), "random", 0.75, seed=5)
    assert len(split.train) == 300
    assert len(split.held_out) == 100


def test_split_is_seeded():
    events = grid()
    first = split_events(events, "random_by_user", 0.75, seed=7)
    again = split_events(events, "random_by_user", 0.75, seed=7)
    other = split_events(events, "random_by_user", 0.75, seed=8)
    assert first.held_out.item_ids.tolist() == again.held_out.item_ids.tolist()
    assert first.held_out.item_ids.tolist() != other.held_out.item_ids.tolist()


def test_single_pair_user_stays_in_training():
    events = table([(1, 10, "view", None, 1), (2, 10, "view", None, 1), (2, 11, "view", None, 2)])
    pairs = find_pairs(events)
    train = split_pairs(pairs, "leave_last_out", 0.75, seed=0)
    assert dict(zip(zip(pairs.user_ids.tolist(), pairs.item_ids.tolist(), strict=True), train.tolist(), strict=True)) == {
        (1, 10): True,
        (2, 10): True,
        (2, 11): False,
    }


def test_relevant_items_skip_dislikes_and_low_ratings():
    held_out = table([
        (1, 10, "rating", 5.0, 1), (1, 11, "rating", 2.0, 1), (1, 12, "dislike", None, 1), (1, 13, "view", None, 1),
        (2, 14, "dislike", None, 1),
    ])
    assert relevant_items(held_out, min_rating=None) == {1: {10, 11, 13}}
    assert relevant_items(held_out, min_rating=4.0) == {1: {10, 13}}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"train_ratio": 1.0}, "train_ratio"),
        ({"train_ratio": 0}, "train_ratio"),
        ({"ks": [0, 10]}, "ks"),
        ({"ks": []}, "ks"),
        ({"protocol": "sideways"}, "protocol"),
        ({"max_users": 0}, "max_users"),
        ({"seed": -1}, "seed"),
        ({"folds": 5}, "folds"),
    ],
)
def test_invalid_settings_name_the_field(raw, field):
    with pytest.raises(EvaluationError) as raised:
        parse_settings(raw)
    assert field in str(raised.value)


def test_settings_sort_and_deduplicate_ks():
    assert parse_settings({"ks": [20, 5, 20]}).ks == (5, 20)
