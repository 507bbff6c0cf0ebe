"""The write path's shortcuts give exactly what the slow definitions give, whatever the values hold.

A record's hash is written once and recomputed by `gateway log verify` from the stored row: a text
built any other way than `canonical_json(chained_fields(row))` (chain.PendingHash, chain.personal_digest)
would make an intact log look tampered with. The time the append path writes itself must be SQLAlchemy's.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.store import chain

# Text that could confuse a builder that cuts the canonical form apart: the marks it uses, keys, quotes.
_AWKWARD = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["\0consent_id\0", "\0seq\0", '"\\u0000seq\\u0000"', '"seq":0', '","seq":0,"', "\\", '"', "null"])
_MAYBE = st.none() | _AWKWARD
_NAMES = st.lists(_AWKWARD, max_size=3)
_TIMES = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(timezone.utc))

_SHAPES = st.fixed_dictionaries({
    "action": _AWKWARD, "gpc": st.booleans(), "banner_texts_hash": _AWKWARD, "categories": _NAMES,
    "container_version": _AWKWARD, "language": _AWKWARD, "offered": _NAMES, "policy_version": st.integers(0, 2**40),
    "region": _MAYBE, "rule": _AWKWARD, "site": _MAYBE, "vendors_refused": st.none() | _NAMES,
    "vendors_offered": st.none() | _NAMES})
_VARYING = st.fixed_dictionaries({"consent_id": _AWKWARD, "decided_at": _TIMES, "personal_digest": _AWKWARD,
                                  "seq": st.integers(1, 2**62)})


@settings(max_examples=300, deadline=None)
@given(shape=_SHAPES, records=st.lists(_VARYING, min_size=1, max_size=5), prev_hash=_AWKWARD)
def test_records_of_one_shape_hash_as_each_would_alone(shape, records, prev_hash) -> None:
    # The first record of a shape is written whole, the second builds the shape's pieces, the others reuse them.
    for varying in records:
        row = {**shape, **varying}
        assert chain.PendingHash(row)(prev_hash, row["seq"]) == chain.record_hash(prev_hash, row)


def test_values_that_are_equal_numbers_are_not_one_shape() -> None:
    # 1 == 1.0 == True, but JSON writes them 1, 1.0 and true: each row keeps its own text.
    base = {"action": "custom", "gpc": False, "banner_texts_hash": "ab" * 32, "offered": ["ads"], "policy_version": 3,
            "region": None, "rule": "opt_in", "site": "s", "container_version": "c1", "language": "en",
            "consent_id": "id", "decided_at": datetime(2026, 12, 7, tzinfo=timezone.utc), "personal_digest": "d",
            "seq": 9}
    for categories in ([1], [1], [1], [1.0], [1.0], [True]):
        row = {**base, "categories": categories}
        assert chain.PendingHash(row)("p", 9) == chain.record_hash("p", row)
    hashes = {chain.record_hash("p", {**base, "categories": c}) for c in ([1], [1.0], [True])}
    assert len(hashes) == 3


def test_a_field_the_shapes_do_not_name_stops_the_fast_path(monkeypatch) -> None:
    # A new chained field must be named as shaped or varying: kept silently, it would be frozen at the
    # first record's value for every record of the shape.
    plain = chain.chained_fields
    monkeypatch.setattr(chain, "chained_fields", lambda row: {**plain(row), "color": "blue"})
    row = {"action": "accept_all", "gpc": False, "banner_texts_hash": "ab" * 32, "categories": [], "offered": [],
           "policy_version": 1, "region": None, "rule": "opt_in", "site": "a-site-no-other-test-uses",
           "container_version": "c", "language": "en", "consent_id": "x",
           "decided_at": datetime(2026, 12, 7, tzinfo=timezone.utc), "personal_digest": "d"}
    chain.PendingHash(row)  # a shape met once is not learnt yet
    with pytest.raises(ValueError, match=r"chained_fields covers \['color'\]"):
        chain.PendingHash(row)


@settings(max_examples=300, deadline=None)
@given(salt=_AWKWARD, ip_prefix=_MAYBE, user_agent=_MAYBE)
def test_the_personal_digest_hashes_the_canonical_form(salt, ip_prefix, user_agent) -> None:
    written = chain.canonical_json({"salt": salt, "ip_prefix": ip_prefix, "user_agent": user_agent})
    assert chain.personal_digest(salt, ip_prefix, user_agent) == chain.sha256(written)


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                           timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30)),
                                                      timezone(timedelta(hours=-11))])))
def test_the_append_paths_sqlite_time_is_sqlalchemys(moment) -> None:
    # The append path writes a record's time itself (append._sqlite_utc_text): the text must be the one
    # SQLAlchemy writes and reads back for UTCDateTime, or ordering and purges by time would go wrong.
    from sqlalchemy.dialects import sqlite

    from gateway.store.append import _bind_processor
    from gateway.store.schema import UTCDateTime

    dialect = sqlite.dialect()
    sqlalchemys = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert _bind_processor(UTCDateTime(), dialect)(moment) == sqlalchemys(moment)
    with pytest.raises(ValueError, match="naive datetime"):
        _bind_processor(UTCDateTime(), dialect)(moment.replace(tzinfo=None))


@pytest.mark.parametrize("field", ["action", "banner_texts_hash", "container_version", "language", "region", "rule",
                                   "site", "categories", "offered", "vendors_refused", "vendors_offered", "gpc",
                                   "policy_version"])
def test_rows_that_differ_in_one_shaped_field_are_two_shapes(field) -> None:
    # Were a field left out of the shape's key, the second row would be written with the first one's value.
    first = {"action": "custom", "banner_texts_hash": "ab" * 32, "container_version": "c1", "language": "en",
             "region": "DE", "rule": "opt_in", "site": f"two-shapes-{field}", "categories": ["ads"], "offered": ["ads"],
             "vendors_refused": ["meta"], "vendors_offered": ["meta"], "gpc": False, "policy_version": 3,
             "consent_id": "id", "decided_at": datetime(2026, 12, 7, tzinfo=timezone.utc), "personal_digest": "d"}
    other = {"gpc": True, "policy_version": 4}.get(field, ["other"] if isinstance(first[field], list) else "other")
    second = {**first, field: other}
    for row in (first, first, first, second, second, second):  # met once, learnt, then from the learnt pieces
        assert chain.PendingHash(row)("p", 5) == chain.record_hash("p", {**row, "seq": 5})
    assert chain.record_hash("p", {**first, "seq": 5}) != chain.record_hash("p", {**second, "seq": 5})
