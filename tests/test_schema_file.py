"""The JSON schema file itself: a key written twice in one object is silently overwritten by every JSON
parser (the last one wins), so a merge that adds a property twice would drop one of them unnoticed."""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA = Path(__file__).resolve().parent.parent / "gateway" / "schemas" / "tag_config.schema.json"


def test_no_object_in_the_schema_names_a_key_twice() -> None:
    def refuse_duplicates(pairs):
        keys = [key for key, _ in pairs]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        assert not twice, f"{SCHEMA.name}: {twice} defined twice in one object"
        return dict(pairs)

    json.loads(SCHEMA.read_text("utf-8"), object_pairs_hook=refuse_duplicates)
