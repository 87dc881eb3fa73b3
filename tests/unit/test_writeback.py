"""The write-back view the window stage batches its table writes through."""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

from pipeline.aggregate import WindowBook, add_to_window, new_window
from pipeline.contribution import Contribution
from pipeline.dedup import packed_window
from pipeline.writeback import WriteBack


class CountingStore(MutableMapping[str, Any]):
    """A dict that counts writes and deletes, as a changelogged table would send them."""

    def __init__(self, **items: Any) -> None:
        self.data = dict(items)
        self.writes: list[str] = []
        self.deletes: list[str] = []

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.append(key)
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        self.deletes.append(key)
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_reads_see_pending_writes_and_the_store_sees_them_only_on_flush() -> None:
    store = CountingStore(a=1, b=2)
    view = WriteBack(store)
    view["a"] = 10
    view["c"] = 3
    del view["b"]
    assert (view["a"], view.get("b"), view["c"]) == (10, None, 3)
    assert sorted(view) == ["a", "c"] and len(view) == 2 and "b" not in view and "c" in view
    assert store.data == {"a": 1, "b": 2} and not store.writes
    assert view.flush() == 3
    assert store.data == {"a": 10, "c": 3} and store.deletes == ["b"]
    assert view.flush() == 0


def test_a_key_written_many_times_reaches_the_store_once() -> None:
    store = CountingStore()
    view = WriteBack(store)
    for n in range(100):
        view["k"] = n
    view["gone"] = 1
    del view["gone"]
    view.flush()
    assert store.writes == ["k"] and store.data == {"k": 99} and not store.deletes
    with pytest.raises(KeyError):
        del view["gone"]


def test_a_batch_of_articles_writes_each_window_once() -> None:
    store = CountingStore()
    view = WriteBack(store)
    book = WindowBook(view, (3600, 86400), grace=0, retention=86400, idle_seconds=30, analyzer_version="t")
    for n in range(50):
        book.add(Contribution(f"a-{n}", "", "wire", 1_700_000_000 + n, True, "absent", 0.0, {}), now=1.0)
    view.flush()
    assert sorted(store.writes) == sorted(set(store.writes))  # one write per key
    assert max(w["articles"] for k, w in store.data.items() if k != "__clock__") == 50


def test_windows_reach_the_store_with_their_fingerprints_packed() -> None:
    store = CountingStore()
    view = WriteBack(store, encode=packed_window)
    book = WindowBook(view, (3600,), grace=0, retention=86400, idle_seconds=30, analyzer_version="t")
    for n in range(3):
        book.add(Contribution(f"a-{n}", f"example.org/{n}", "wire", 1_700_000_000 + n, True, "absent", 0.0, {}),
                 now=1.0)
    view.flush()
    window = next(w for k, w in store.data.items() if k != "__clock__")
    assert isinstance(window["seen"], str) and json.loads(json.dumps(window)) == window
    # The next batch reads it back from the store and still recognises what it counted; the store keeps it packed
    store.writes.clear()
    outcome = book.add(Contribution("a-1", "example.org/1", "wire", 1_700_000_001, True, "absent", 0.0, {}), now=2.0)
    assert outcome.duplicates == 1 and outcome.counted == 0
    view.flush()
    assert all(isinstance(w["seen"], str) for k, w in store.data.items() if k != "__clock__")
    assert store.writes == ["__clock__"]  # the window, unchanged, is not rewritten to its changelog


@pytest.mark.parametrize("form", ["list", "object", "packed"])
def test_windows_written_in_any_fingerprint_form_still_drop_duplicates(form: str) -> None:
    window = new_window(0, 3600)
    c = Contribution("a-1", "example.org/a", "wire", 10.0, True, "absent", 0.0, {})
    assert add_to_window(window, c, late=False)
    hex_keys = [f"{key:016x}" for key in window["seen"]]
    # Before fingerprints were packed: JSON hex strings in a list, then as an object's keys (a set)
    window["seen"] = {"list": hex_keys, "object": dict.fromkeys(hex_keys, 1),
                      "packed": json.loads(json.dumps(packed_window(window)))["seen"]}[form]
    assert not add_to_window(window, c, late=False) and window["articles"] == 1
    other = Contribution("a-2", "example.org/b", "wire", 11.0, True, "absent", 0.0, {})
    assert add_to_window(window, other, late=False) and window["articles"] == 2
