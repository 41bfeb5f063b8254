"""Who may use the staff desk: credentials from the environment, and the refusal raised for everyone else."""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class StaffCredentials:
    user: str
    password: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StaffCredentials | None:
        """NEWSQA_STAFF_USER and NEWSQA_STAFF_PASSWORD, or None (desk off) unless both are set and non-empty."""
        env = os.environ if environ is None else environ
        user, password = env.get("NEWSQA_STAFF_USER", ""), env.get("NEWSQA_STAFF_PASSWORD", "")
        return cls(user, password) if user and password else None

    def check(self, user: str, password: str) -> bool:
        # compare both fields in full every time so the timing says nothing about which one was wrong
        ok_user = hmac.compare_digest((user or "").encode("utf-8"), self.user.encode("utf-8"))
        ok_password = hmac.compare_digest((password or "").encode("utf-8"), self.password.encode("utf-8"))
        return ok_user and ok_password


class StaffRefused(Exception):
    """A staff action was attempted without a logged-in session."""
