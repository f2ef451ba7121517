"""A readable field-level diff between two revision documents.

Each change is `{path, op, before, after}` with `op` one of `added`, `removed`, `changed`. Paths are
JSON-pointer-like paths into the document; list items that carry a stable key are named by it
(`/drug/sections[key=mechanism]/body`, `/drug/faqs[question=Can I drive?]/answer`), so reordering or
inserting an item does not show as a change of every later item. Other lists compare by position.
The `ids` part of a revision (database ids of the parts) is bookkeeping and left out.
"""

from __future__ import annotations

from typing import Any

STABLE_KEYS = ("key", "question", "slug", "system", "name", "title", "url")
IGNORED_TOP_LEVEL = ("ids",)


def diff_documents(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The changes that turn `before` into `after`."""
    changes: list[dict[str, Any]] = []
    before = {k: v for k, v in before.items() if k not in IGNORED_TOP_LEVEL}
    after = {k: v for k, v in after.items() if k not in IGNORED_TOP_LEVEL}
    _diff(before, after, "", changes)
    return changes


def _stable_key(items: list[Any]) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in STABLE_KEYS:
        values = [i.get(key) for i in items]
        if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
            return key
    return None


def _shared_key(before: list[Any], after: list[Any]) -> str | None:
    """A key unique within each list (either may be empty), or None."""
    if not before and not after:
        return None
    keys = [_stable_key(items) for items in (before, after) if items]
    if None in keys or len(set(keys)) != 1:
        # Both present but keyed differently (e.g. an item renamed): pick the first key both share.
        shared = [k for k in STABLE_KEYS if all(_unique(items, k) for items in (before, after) if items)]
        return shared[0] if shared else None
    return keys[0]


def _unique(items: list[Any], key: str) -> bool:
    if not all(isinstance(i, dict) for i in items):
        return False
    values = [i.get(key) for i in items]
    return all(isinstance(v, str) for v in values) and len(set(values)) == len(values)


def _diff(before: Any, after: Any, path: str, out: list[dict[str, Any]]) -> None:
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in list(before) + [k for k in after if k not in before]:
            child = f"{path}/{_escape(str(key))}"
            if key not in after:
                out.append({"path": child, "op": "removed", "before": before[key], "after": None})
            elif key not in before:
                out.append({"path": child, "op": "added", "before": None, "after": after[key]})
            else:
                _diff(before[key], after[key], child, out)
        return
    if isinstance(before, list) and isinstance(after, list):
        key = _shared_key(before, after)
        if key is not None:
            old = {i[key]: i for i in before}
            new = {i[key]: i for i in after}
            for name in list(old) + [n for n in new if n not in old]:
                child = f"{path}[{key}={name}]"
                if name not in new:
                    out.append({"path": child, "op": "removed", "before": old[name], "after": None})
                elif name not in old:
                    out.append({"path": child, "op": "added", "before": None, "after": new[name]})
                else:
                    _diff(old[name], new[name], child, out)
            if [i for i in old if i in new] != [n for n in new if n in old]:
                order = {"before": [i[key] for i in before], "after": [i[key] for i in after]}
                out.append({"path": f"{path}#order", "op": "changed", **order})
            return
        if all(not isinstance(i, dict | list) for i in before + after):
            out.append({"path": path, "op": "changed", "before": before, "after": after})
            return
        for n in range(max(len(before), len(after))):
            child = f"{path}/{n}"
            if n >= len(after):
                out.append({"path": child, "op": "removed", "before": before[n], "after": None})
            elif n >= len(before):
                out.append({"path": child, "op": "added", "before": None, "after": after[n]})
            else:
                _diff(before[n], after[n], child, out)
        return
    out.append({"path": path, "op": "changed", "before": before, "after": after})


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")
