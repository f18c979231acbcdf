"""How a Help Scout conversation carries a priority, which Help Scout itself does not have.

An account expresses it either as a tag (`priority-high`, the prefix configurable) or as
a dropdown custom field whose option ids are configured.  Reading takes the highest
priority tag (or the field's option); without one a conversation is "normal".  Raising
adds a tag (lower priority tags stay: they are not ours) or sets the dropdown while
every other custom field is kept as it is, because Help Scout's `PUT .../fields`
replaces them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from connectors.base import PRIORITIES, FatalError, priority_rank


@dataclass(frozen=True, slots=True)
class PriorityExpression:
    """Where an account keeps a conversation's priority: a tag, or a dropdown field."""

    mode: Literal["tag", "field"]
    tag_prefix: str
    field_id: int | None
    options: Mapping[str, int]  # normalised priority -> dropdown option id

    def of(self, conversation: Mapping[str, Any]) -> str:
        """The conversation's priority; without a priority tag or field value, "normal"."""
        if self.mode == "tag":
            found = [tag[len(self.tag_prefix):] for tag in tag_names(conversation)
                     if tag.startswith(self.tag_prefix)]
            ranked = [p for p in found if p in PRIORITIES]
            return max(ranked, key=priority_rank) if ranked else "normal"
        by_option = {str(option): name for name, option in self.options.items()}
        for custom in conversation.get("customFields") or []:
            if isinstance(custom, dict) and custom.get("id") == self.field_id:
                return by_option.get(str(custom.get("value")), "normal")
        return "normal"

    def raise_to(self, conversation: Mapping[str, Any], tags: list[str],
                 priority: str) -> list[dict[str, Any]] | None:
        """Express `priority`: its tag appended to `tags` (None returned), or every custom
        field as it is with the dropdown set (to PUT whole)."""
        if self.mode == "tag":
            tag = f"{self.tag_prefix}{priority}"
            if tag not in tags:
                tags.append(tag)
            return None
        option = self.options.get(priority)
        if option is None:
            raise FatalError(f"helpscout: no dropdown option configured for {priority!r}")
        fields = [{"id": custom["id"], "value": custom.get("value")}
                  for custom in conversation.get("customFields") or []
                  if isinstance(custom, dict) and custom.get("id") != self.field_id]
        fields.append({"id": self.field_id, "value": str(option)})
        return fields


def tag_names(conversation: Mapping[str, Any]) -> list[str]:
    """A conversation's tags by name (the API gives objects, or names in older payloads)."""
    names: list[str] = []
    for tag in conversation.get("tags") or []:
        name = tag.get("tag") if isinstance(tag, dict) else tag
        if isinstance(name, str):
            names.append(name)
    return names
