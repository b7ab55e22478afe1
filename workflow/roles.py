"""Roles a person may hold; a person may hold several."""

from __future__ import annotations

import re
from enum import StrEnum

from workflow.texts import label


class Role(StrEnum):
    MEMBER = "member"  # 委员
    STAFF = "staff"  # 提案委工作人员
    HANDLER = "handler"  # 承办单位办理人
    SUPERVISOR = "supervisor"  # 督办单位人员
    LEADER = "leader"  # 牵头领导


ROLE_LABELS: dict[Role, label] = {
    Role.MEMBER: label("委员"),
    Role.STAFF: label("提案委"),
    Role.HANDLER: label("承办人"),
    Role.SUPERVISOR: label("督办人"),
    Role.LEADER: label("牵头领导"),
}

# Words accepted in roster files, Chinese or English, for each role.
ROLE_WORDS: dict[str, Role] = {
    **{role.value: role for role in Role},
    **{label: role for role, label in ROLE_LABELS.items()},
    "提案委员会": Role.STAFF,
    "工作人员": Role.STAFF,
    "办理人": Role.HANDLER,
    "经办人": Role.HANDLER,
    "承办单位": Role.HANDLER,
    "督办": Role.SUPERVISOR,
    "督办单位": Role.SUPERVISOR,
    "领导": Role.LEADER,
}


def parse_roles(text: str) -> list[Role]:
    """Parse "委员;提案委" or "member, staff"; raises ValueError naming an unknown word."""
    roles: list[Role] = []
    for word in re.split(r"[,，;；、/\s]+", text):
        word = word.strip()
        if not word:
            continue
        role = ROLE_WORDS.get(word.lower()) or ROLE_WORDS.get(word)
        if role is None:
            raise ValueError(word)
        if role not in roles:
            roles.append(role)
    return roles


def format_roles(roles: str | frozenset[str]) -> str:
    items = roles.split(",") if isinstance(roles, str) else sorted(roles)
    return "、".join(ROLE_LABELS[Role(r)] for r in items if r)
