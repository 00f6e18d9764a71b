"""A faithful sandbox Jira (Cloud REST v3 or Server REST v2) for tests and the local stack.

    with SandboxJira("cloud") as site:
        admin = SandboxAdmin(site.url)
        admin.create_project("ABC", issue_types=["Task", "Bug"], default_issue_type="Task")
        bot = admin.create_user(display_name="Bot", email="bot@example.com")
        # REST calls with basic auth: bot["email"], bot["token"]

Run as a process with ``python -m devstack.sandbox_jira --flavour cloud --port 8081``.
"""

from .admin import SandboxAdmin
from .sandbox import SandboxJira

__all__ = ["SandboxAdmin", "SandboxJira"]
