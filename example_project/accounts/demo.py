"""The demo accounts: shown on the login page, created by ``ensure_demo_user``."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    email: str
    staff: bool
    purpose: str


ACCOUNTS = (
    DemoAccount("demo", "demo-password-123", "demo@example.com", False, "try the dual-link change"),
    DemoAccount(
        "taken", "taken-password-123", "taken@example.com", False, "owns an address to bump into"
    ),
    DemoAccount("admin", "admin-password-123", "admin@example.com", True, "the admin at /admin/"),
)
