"""A visitor of a running host, as a browser without JavaScript is: cookies, redirects
followed, and the page's own forms (hidden fields, CSRF token and defaults included) filled
in and sent back. Standard library only (urllib, html.parser)."""

from __future__ import annotations

import http.cookiejar
import mimetypes
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser

TIMEOUT = 30  # seconds for one request; a host that hangs fails the test


@dataclass
class Form:
    action: str
    method: str
    id: str
    enctype: str
    # Name and value of every field the browser would send, in page order.
    fields: list[tuple[str, str]] = field(default_factory=list)
    # name → [(value, label)] of each <select>.
    options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        return next((v for n, v in self.fields if n == name), None)

    def set(self, name: str, value: str) -> None:
        """Replace the field's value (or add it)."""
        self.fields = [(n, v) for n, v in self.fields if n != name] + [(name, value)]

    def choose(self, name: str, label_starts: str) -> str:
        """Select the option of ``name`` whose label starts with ``label_starts``."""
        value = next(v for v, label in self.options[name] if label.startswith(label_starts))
        self.set(name, value)
        return value


class _FormParser(HTMLParser):
    """Every <form> of a page with the fields a browser submits by default."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._by_id: dict[str, Form] = {}
        self._open: Form | None = None
        self._select: tuple[Form, str, bool] | None = None  # form, name, anything selected
        self._option: tuple[str, list[str], bool] | None = None  # value, label parts, selected
        self._textarea: tuple[Form, str, list[str]] | None = None
        # Fields with a form="…" attribute naming a form not seen yet.
        self._pending: list[tuple[str, tuple[str, str]]] = []

    def _owner(self, attrs: dict) -> Form | None:
        if "form" in attrs:
            return self._by_id.get(attrs["form"])
        return self._open

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            form = Form(
                action=a.get("action", ""),
                method=a.get("method", "get").lower(),
                id=a.get("id", ""),
                enctype=a.get("enctype", ""),
            )
            self.forms.append(form)
            if form.id:
                self._by_id[form.id] = form
            self._open = form
        elif tag == "input":
            owner, name = self._owner(a), a.get("name")
            kind = a.get("type", "text").lower()
            if not name or kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            value = a.get("value", "on" if kind in {"checkbox", "radio"} else "")
            if owner is None and "form" in a:
                self._pending.append((a["form"], (name, value)))
            elif owner is not None:
                owner.fields.append((name, value))
        elif tag == "select":
            owner, name = self._owner(a), a.get("name")
            if owner is not None and name:
                owner.options[name] = []
                self._select = (owner, name, False)
        elif tag == "option" and self._select is not None:
            self._option = (a.get("value"), [], "selected" in a)
        elif tag == "textarea":
            owner, name = self._owner(a), a.get("name")
            if owner is not None and name:
                self._textarea = (owner, name, [])

    def handle_data(self, data):
        if self._option is not None:
            self._option[1].append(data)
        if self._textarea is not None:
            self._textarea[2].append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None
        elif tag == "option" and self._option is not None:
            self._end_option()
        elif tag == "select" and self._select is not None:
            self._end_option()
            form, name, chosen = self._select
            if not chosen and form.options[name]:  # a browser sends the first option
                form.fields.append((name, form.options[name][0][0]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            form, name, parts = self._textarea
            form.fields.append((name, "".join(parts).removeprefix("\n")))
            self._textarea = None

    def _end_option(self):
        if self._option is None or self._select is None:
            return
        value, parts, selected = self._option
        label = " ".join("".join(parts).split())
        form, name, chosen = self._select
        value = label if value is None else value
        form.options[name].append((value, label))
        if selected:
            form.fields.append((name, value))
            self._select = (form, name, True)
        self._option = None

    def close(self):
        super().close()
        for form_id, item in self._pending:
            if form_id in self._by_id:
                self._by_id[form_id].fields.append(item)


@dataclass
class Page:
    status: int
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def forms(self) -> list[Form]:
        parser = _FormParser()
        parser.feed(self.text)
        parser.close()
        return parser.forms

    def form(self, *, id: str = "", action_ends: str = "") -> Form:
        """The one form with this id, or whose action ends so."""
        found = [
            f
            for f in self.forms()
            if (id and f.id == id) or (action_ends and f.action.endswith(action_ends))
        ]
        assert len(found) == 1, f"{len(found)} forms match id={id!r} action={action_ends!r}"
        return found[0]


def _multipart(fields, files) -> tuple[bytes, str]:
    boundary = f"----cluster{uuid.uuid4().hex}"
    parts = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, filename, content in files:
        kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Visitor:
    """One person's browser. Cookies are kept per address, not per port, as browsers do: a
    visitor who goes to both hosts carries one session, as behind a load balancer."""

    def __init__(self, cookies: http.cookiejar.CookieJar | None = None):
        self.cookies = cookies if cookies is not None else http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, url: str) -> Page:
        return self._send(urllib.request.Request(url))

    def submit(self, page: Page, form: Form, files=()) -> Page:
        """Send ``form`` of ``page`` as the browser would (POST forms only)."""
        assert form.method == "post", form
        url = urllib.parse.urljoin(page.url, form.action or page.url)
        if form.enctype == "multipart/form-data":
            body, content_type = _multipart(form.fields, files)
        else:
            assert not files, "files need a multipart form"
            body = urllib.parse.urlencode(form.fields).encode()
            content_type = "application/x-www-form-urlencoded"
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": content_type}
        )
        return self._send(request)

    def sign_in(self, host: str, username: str, password: str) -> Page:
        page = self.get(f"{host}/accounts/login/")
        form = next(f for f in page.forms() if f.value("username") is not None)
        form.set("username", username)
        form.set("password", password)
        return self.submit(page, form)

    def _send(self, request) -> Page:
        try:
            response = self._opener.open(request, timeout=TIMEOUT)
        except urllib.error.HTTPError as error:  # a 4xx/5xx page is a page too
            with error:
                return Page(error.code, error.url, dict(error.headers), error.read())
        with response:
            return Page(response.status, response.url, dict(response.headers), response.read())
