"""A griffe extension for the API reference: the package's docstrings are written in
Sphinx style (``:param x:``, ``:class:`Name```, doctest lines, ``#:`` comments before
attributes), which mkdocstrings' sphinx parser reads for parameters only. This turns
the cross-reference roles into mkdocs-autorefs links (or plain code when the target is
not on the reference page), doctest lines into ``pycon`` code blocks, and the ``#:``
comment above an attribute into its docstring, before the docstrings are parsed.

Loaded by mkdocs.yml (``extensions:`` of the python handler); not part of the site.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|meth|attr|func|exc|data|mod|obj):`(~?)([^`]+)`")
_PACKAGE = "dynamic_io_asgi"


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles and doctests in every docstring of the package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name != _PACKAGE:
            return
        public = {str(name) for name in pkg.exports or ()}
        for obj in _walk(pkg):
            if obj.docstring is None and obj.is_attribute:
                comment = _comment_docstring(obj)
                if comment:
                    obj.docstring = griffe.Docstring(comment, parent=obj, lineno=obj.lineno)
            if obj.docstring is not None:
                obj.docstring.value = _doctests(_roles(obj.docstring.value, obj, pkg, public))


def _walk(obj: griffe.Object, seen: set[str] | None = None) -> list[griffe.Object]:
    seen = set() if seen is None else seen
    found: list[griffe.Object] = []
    for member in obj.members.values():
        if member.is_alias or member.path in seen:
            continue
        seen.add(member.path)
        found.append(member)  # type: ignore[arg-type]
        found.extend(_walk(member, seen))  # type: ignore[arg-type]
    return found


def _comment_docstring(obj: griffe.Object) -> str:
    """The ``#:`` comment lines right above an attribute's assignment, as text."""
    if obj.filepath is None or obj.lineno is None or isinstance(obj.filepath, list):
        return ""
    try:
        lines = obj.lines_collection[obj.filepath]
    except KeyError:
        return ""
    found: list[str] = []
    index = obj.lineno - 2  # the line above the assignment, 0-based
    while index >= 0 and lines[index].strip().startswith("#:"):
        found.insert(0, lines[index].strip()[2:].strip())
        index -= 1
    return "\n".join(found)


def _rendered(member: Any) -> bool:
    """Whether the reference page shows ``member`` (so that a link to it resolves)."""
    name = member.name
    return not name.startswith("_") and not member.is_alias


def _target(name: str, obj: griffe.Object, pkg: griffe.Module, public: set[str]) -> str | None:
    """The path of ``name`` on the reference page, or ``None`` if it is not there."""
    name = name.removeprefix(_PACKAGE + ".")
    if name.startswith("."):
        return None  # a private module (``._registry.NamespaceRegistry``)
    head, _, rest = name.partition(".")
    if head in public:
        return f"{_PACKAGE}.{name}"
    # A member of the class the docstring belongs to (or of its class, for a method).
    owner = obj if obj.is_class else obj.parent
    while owner is not None and not owner.is_class:
        owner = owner.parent if not owner.is_module else None
    if owner is not None and owner.name in public and not rest:
        member = owner.members.get(name)
        if member is not None and _rendered(member):
            return f"{_PACKAGE}.{owner.name}.{name}"
    return None


def _roles(text: str, obj: griffe.Object, pkg: griffe.Module, public: set[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        role, tilde, name = match.groups()
        label = name.rsplit(".", 1)[-1] if tilde or name.startswith(".") else name
        if role in ("meth", "func"):
            label += "()"
        target = _target(name, obj, pkg, public)
        return f"[`{label}`][{target}]" if target else f"`{label}`"

    return _ROLE.sub(replace, text)


def _doctests(text: str) -> str:
    """Wrap each run of doctest lines (``>>>`` and the output after it) in a code block."""
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(indent) :])
                i += 1
            out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)
