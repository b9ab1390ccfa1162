#!/usr/bin/env python3
"""CGI demo of server-side sessions (DESIGN §7).

The server passes SESSION_ID and SESSION_DATA (a URL-encoded form string such as `visits=3&name=Ada`).
This script counts visits, stores a name sent by POST, and answers with `X-Session-Data: <new data>`,
which the server stores and does not forward. POST `action=logout` answers `X-Session-End: 1` instead,
and the server destroys the session. `X-Visits: N` reports this visit's count, for tests.
"""
import html
import os
import sys
from urllib.parse import parse_qs, urlencode

MAX_NAME = 100  # characters kept of a submitted name


def read_form():
    """Fields of a urlencoded POST body; {} for anything else."""
    if os.environ.get("REQUEST_METHOD") != "POST":
        return {}
    body = sys.stdin.buffer.read()
    ctype = os.environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return {}
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def first(fields, key, default=""):
    values = fields.get(key)
    return values[0] if values else default


def main():
    session_id = os.environ.get("SESSION_ID", "")
    data = parse_qs(os.environ.get("SESSION_DATA", ""), keep_blank_values=True)
    form = read_form()

    try:
        visits = int(first(data, "visits", "0")) + 1
    except ValueError:
        visits = 1
    data["visits"] = [str(visits)]

    logout = first(form, "action") == "logout"
    name = first(form, "name").strip()[:MAX_NAME]
    if name:
        data["name"] = [name]
    stored = urlencode(data, doseq=True)

    headers = ["Content-Type: text/html; charset=utf-8", "X-Visits: %d" % visits]
    if logout:
        headers.append("X-Session-End: 1")
    else:
        headers.append("X-Session-Data: " + stored)

    current = first(data, "name")
    if logout:
        content = """<p class="ok">You are logged out: the server has destroyed the session.</p>
<p>Visits: %d</p>
<p><a class="button" href="/cgi-bin/session.py">Start again</a></p>""" % visits
    else:
        content = """<p style="font-size:1.4rem">Hello, <strong>%s</strong></p>
<p>Visits: <strong>%d</strong> · <a href="/cgi-bin/session.py">reload to count</a></p>
<form class="stack" method="post" action="/cgi-bin/session.py">
<label>Your name <input type="text" name="name" value="%s" maxlength="%d" required></label>
<div><button type="submit">Save name</button></div>
</form>
<form method="post" action="/cgi-bin/session.py" style="margin-top:1rem">
<input type="hidden" name="action" value="logout">
<button type="submit" class="danger">Logout</button>
</form>
<p class="muted">Stored on the server: <code>%s</code></p>""" % (
            html.escape(current or "stranger"), visits, html.escape(current), MAX_NAME, html.escape(stored))
    note = "" if session_id else (
        '<p class="bad">No SESSION_ID: this location has <code>session off</code>, so nothing is kept.</p>')

    page = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Session demo — localhost</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<main class="wrap">
<h1>Session demo</h1>
<p class="lead">The <code>sid</code> cookie names a session kept by the server; this script reads its data
and tells the server what to store next.</p>
%s
<div class="card">%s</div>
<p><a href="/">Home</a></p>
</main>
</body>
</html>
""" % (note, content)
    out = page.encode("utf-8")
    headers.append("Content-Length: %d" % len(out))
    sys.stdout.buffer.write(("\r\n".join(headers) + "\r\n\r\n").encode("latin-1"))
    sys.stdout.buffer.write(out)


main()
