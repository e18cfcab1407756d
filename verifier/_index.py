"""The replayed registries, indexed by what a draw's snapshot selects on (SPEC.md 14.3).

A draw's pool is the targets of some sub-registries whose fields pass the pool and strata
rules; its roster the inspectors of the team's departments; its declared conflicts the
active pairs of those inspectors. Scanning the whole registry for each draw costs draws x
registry size, out of reach at a province's scale, so each mapping also keeps its entries
grouped by those keys, and a snapshot visits only what it takes.

Each is a ``dict`` (the replay state reads it as one, at C speed) whose writes, deletions
included, keep the groups in step: the ledger's undo journal, which writes and deletes
through the mapping, rolls the groups back too. Bulk writers (``update``, ``setdefault``,
``pop``...) go through the same single-key write.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["ConflictIndex", "InspectorIndex", "TargetIndex"]

Fields = tuple[str, ...]  # verifier._draw.TARGET_FIELDS, registry first


def _drop(groups: dict[Any, dict[Any, None]], group: Any, key: Any) -> None:
    """Take ``key`` out of ``groups[group]``, and the group once empty (no growth under
    churn)."""
    members = groups[group]
    del members[key]
    if not members:
        del groups[group]


class _Indexed(dict[Any, Any]):
    """A dict that calls ``_unindex`` and ``_index`` around every change of a value."""

    def _index(self, key: Any, value: Any) -> None:
        raise NotImplementedError

    def _unindex(self, key: Any, value: Any) -> None:
        raise NotImplementedError

    def __setitem__(self, key: Any, value: Any) -> None:
        if key in self:
            self._unindex(key, dict.__getitem__(self, key))
        dict.__setitem__(self, key, value)
        self._index(key, value)

    def __delitem__(self, key: Any) -> None:
        self._unindex(key, dict.__getitem__(self, key))
        dict.__delitem__(self, key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def pop(self, key: Any, *default: Any) -> Any:
        if key not in self and default:
            return default[0]
        value = dict.__getitem__(self, key)
        del self[key]
        return value

    def popitem(self) -> tuple[Any, Any]:
        if not self:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(self.keys()))
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def __ior__(self, other: Any) -> _Indexed:  # type: ignore[misc]
        self.update(other)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled and copied as its items and its groups as they stand: re-indexing a
        million targets one by one made loading a saved replay state slow."""
        return _restore, (type(self), dict.copy(self), dict(vars(self)))


def _restore(cls: type[_Indexed], items: dict[Any, Any], attrs: dict[str, Any]) -> _Indexed:
    """An index rebuilt from its pickled items and groups (``_Indexed.__reduce__``)."""
    obj = cls.__new__(cls)
    dict.update(obj, items)
    vars(obj).update(attrs)
    return obj


class TargetIndex(_Indexed):
    """USCC -> the target's fields (None once removed), grouped by registry and by the
    distinct field tuple: a registry of a million targets holds a few thousand distinct
    tuples, so a pool rule is judged once per tuple and only passing targets are visited.
    ``visits`` counts the targets handed out by ``members`` (tests count them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.groups: dict[str, dict[Fields, dict[str, None]]] = {}
        self.visits = 0
        self.update(*args, **kwargs)

    def _index(self, key: Any, value: Any) -> None:
        if value is not None:
            views = self.groups.get(value[0])
            if views is None:
                views = self.groups[value[0]] = {}
            group = views.get(value)
            if group is None:
                group = views[value] = {}
            group[key] = None

    def _unindex(self, key: Any, value: Any) -> None:
        if value is not None:
            views = self.groups[value[0]]
            _drop(views, value, key)
            if not views:
                del self.groups[value[0]]

    def views(self, registries: Iterable[str]) -> Iterator[tuple[Fields, dict[str, None]]]:
        """(fields, its targets) of every distinct field tuple in these sub-registries."""
        for registry in dict.fromkeys(registries):
            yield from self.groups.get(registry, {}).items()

    def members(self, group: dict[str, None]) -> Iterator[str]:
        """The USCCs of one group, counted as visited."""
        self.visits += len(group)
        return iter(group)


class InspectorIndex(_Indexed):
    """执法证号 -> the inspector's view (None once removed; ``dept`` first), grouped by
    department. ``visits`` counts the inspectors handed out by ``of_departments``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.by_dept: dict[str, dict[str, None]] = {}
        self.visits = 0
        self.update(*args, **kwargs)

    def _index(self, key: Any, value: Any) -> None:
        # A department that is not a string (a malformed body the rules reported) is
        # never a team's: such a row is kept, and never indexed.
        if value is not None and type(value[0]) is str:
            self.by_dept.setdefault(value[0], {})[key] = None

    def _unindex(self, key: Any, value: Any) -> None:
        if value is not None and type(value[0]) is str:
            _drop(self.by_dept, value[0], key)

    def of_departments(self, depts: Iterable[str]) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """(执法证号, view) of the current inspectors of these departments."""
        for dept in dict.fromkeys(depts):
            group = self.by_dept.get(dept, {})
            self.visits += len(group)
            for cert in group:
                yield cert, dict.__getitem__(self, cert)


class ConflictIndex(_Indexed):
    """(执法证号, USCC) -> declared (True) or withdrawn (False), the active pairs grouped
    by inspector."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.active: dict[str, dict[str, None]] = {}
        self.visits = 0
        self.update(*args, **kwargs)

    def _index(self, key: Any, value: Any) -> None:
        if value:
            self.active.setdefault(key[0], {})[key[1]] = None

    def _unindex(self, key: Any, value: Any) -> None:
        if value:
            _drop(self.active, key[0], key[1])

    def of_inspectors(self, certs: Iterable[str]) -> Iterator[tuple[str, str]]:
        """The active pairs of these inspectors."""
        for cert in certs:
            group = self.active.get(cert, {})
            self.visits += len(group)
            for uscc in group:
                yield cert, uscc
