"""Roles and the authenticated principal, shared by every feature's routes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Who a user is on the platform."""

    ADMIN = "admin"  # 系统管理员
    SUPERVISOR = "supervisor"  # 班长/质检/审核
    AGENT = "agent"  # 坐席/话务员
    UNIT_STAFF = "unit_staff"  # 成员单位工作人员 (belongs to one member unit)
    AUDITOR = "auditor"  # 只读 (联席会议办公室 etc.)


ALL_ROLES: frozenset[Role] = frozenset(Role)
PLATFORM_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT})
"""Staff of the 12345 platform itself: they act on every work order."""
READ_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.AUDITOR})
"""Platform roles plus the read-only auditor."""
SUPERVISOR_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.SUPERVISOR})


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    user_id: int
    username: str
    role: Role
    unit_code: str | None
    display_name: str
    extension: str | None = None

    @property
    def is_platform(self) -> bool:
        """True for platform staff (agents, supervisors, admins)."""
        return self.role in PLATFORM_ROLES

    @property
    def can_write(self) -> bool:
        """Auditors only read."""
        return self.role is not Role.AUDITOR
