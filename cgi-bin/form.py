#!/usr/bin/env python3
"""CGI demo: a form (name, message, file) sent by GET, urlencoded POST or multipart POST, and what arrived.

GET without a query shows the form; GET with a query or any POST also shows the fields received,
HTML-escaped, and the raw body length (also in an X-Body-Length header, for tests).
"""
import email.parser
import email.policy
import html
import os
import sys
from urllib.parse import parse_qsl

PREVIEW = 200  # characters of a field value shown


def read_body():
    """The whole request body; the server closes stdin at its end (RFC 3875 §4.2)."""
    if os.environ.get("CONTENT_LENGTH") or os.environ.get("REQUEST_METHOD") in ("POST", "PUT"):
        return sys.stdin.buffer.read()
    return b""


def parse_multipart(ctype, body):
    """(name, filename or None, bytes) for each part of a multipart/form-data body (RFC 7578)."""
    head = b"Content-Type: " + ctype.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n"
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        return []
    fields = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition") or "(no name)"
        data = part.get_payload(decode=True) or b""
        fields.append((str(name), part.get_filename(), data))
    return fields


def text(data):
    s = data.decode("utf-8", "replace")
    return s if len(s) <= PREVIEW else s[:PREVIEW] + "…"


def table(title, rows):
    if not rows:
        return '<h2>%s</h2><p class="muted">(none)</p>' % html.escape(title)
    cells = "\n".join(
        "<tr><th>%s</th><td>%s</td></tr>" % (html.escape(k), v) for k, v in rows
    )
    return "<h2>%s</h2><table>%s</table>" % (html.escape(title), cells)


def value_cell(value):
    return "<code>%s</code>" % html.escape(value)


FORM = """<form class="stack" action="/cgi-bin/form.py" method="post">
<label>Name <input type="text" name="name" value="Ada"></label>
<label>Message <textarea name="message" rows="3">Hello &amp; welcome &lt;3</textarea></label>
<label>File (sent with multipart only) <input type="file" name="upload"></label>
<div>
<button type="submit">POST (urlencoded)</button>
<button type="submit" formenctype="multipart/form-data">POST (multipart)</button>
<button type="submit" formmethod="get">GET</button>
</div>
</form>"""


def main():
    method = os.environ.get("REQUEST_METHOD", "GET")
    query = os.environ.get("QUERY_STRING", "")
    ctype = os.environ.get("CONTENT_TYPE", "")
    body = read_body()

    sections = []
    if query or method != "GET":
        qrows = [(k, value_cell(v)) for k, v in parse_qsl(query, keep_blank_values=True)]
        sections.append(table("Query string fields", qrows))
        kind = ctype.split(";")[0].strip().lower()
        if kind == "application/x-www-form-urlencoded":
            brows = [(k, value_cell(v)) for k, v in
                     parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)]
            sections.append(table("Body fields (urlencoded)", brows))
        elif kind == "multipart/form-data":
            brows = []
            for name, filename, data in parse_multipart(ctype, body):
                if filename is not None:
                    brows.append((name, "file <code>%s</code>, %d bytes" % (html.escape(filename), len(data))))
                else:
                    brows.append((name, value_cell(text(data))))
            sections.append(table("Body fields (multipart)", brows))
        elif body:
            sections.append("<h2>Body</h2><p>Content-Type <code>%s</code>: not a form.</p>" % html.escape(ctype))
        sections.append(
            "<p>Method <code>%s</code>, Content-Type <code>%s</code>, raw body length: <strong>%d</strong> bytes.</p>"
            % (html.escape(method), html.escape(ctype or "(none)"), len(body))
        )

    page = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>form.py — CGI form</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<main class="wrap">
<h1>A form handled by Python CGI</h1>
%s
<div class="card">%s</div>
<p><a href="/cgi-bin/form.py">Reset</a> · <a href="/">Home</a></p>
</main>
</body>
</html>
""" % ('<div class="card">%s</div>' % "\n".join(sections) if sections else "", FORM)
    out = page.encode("utf-8")
    sys.stdout.buffer.write(
        b"Content-Type: text/html; charset=utf-8\r\nX-Body-Length: %d\r\nContent-Length: %d\r\n\r\n"
        % (len(body), len(out))
    )
    sys.stdout.buffer.write(out)


main()
