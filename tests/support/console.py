"""A person at the console, over HTTP with no JavaScript: sign-in, pages, forms."""

from __future__ import annotations

import re

import httpx

from tests.support.auth_service import ADMIN_EMAIL, USER_PASSWORD
from tests.support.stack import Stack


class Browser:
    """A person's browser: its own cookies, no JavaScript."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=15, follow_redirects=False)

    def form_token(self, path: str) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.http.get(path).text)
        assert found, path
        return found.group(1)

    def sign_in(self, email: str, password: str, next_path: str = "/") -> httpx.Response:
        token = self.form_token("/sign-in")
        return self.http.post(
            "/sign-in", data={"email": email, "password": password, "csrf": token, "next": next_path}
        )


def signed_in(stack: Stack, email: str, password: str = USER_PASSWORD) -> Browser:
    assert stack.console
    if email != ADMIN_EMAIL:
        stack.auth.token(email)  # registered
    browser = Browser(stack.console)
    assert browser.sign_in(email, password).status_code == 303
    return browser
