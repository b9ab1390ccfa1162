#!/usr/bin/env python3
"""CGI demo: an HTML page listing the RFC 3875 meta-variables this request was given."""
import html
import os
import sys

# RFC 3875 §4.1 meta-variables, plus the common extensions SCRIPT_FILENAME, REQUEST_URI, DOCUMENT_ROOT.
NAMES = [
    "GATEWAY_INTERFACE", "SERVER_SOFTWARE", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED", "QUERY_STRING",
    "CONTENT_TYPE", "CONTENT_LENGTH", "REMOTE_ADDR", "REMOTE_PORT", "SCRIPT_FILENAME",
    "REQUEST_URI", "DOCUMENT_ROOT", "SESSION_ID",
]


def body_length():
    """Read the request body, if any, so the server never writes into a closed pipe."""
    if os.environ.get("CONTENT_LENGTH") or os.environ.get("REQUEST_METHOD") in ("POST", "PUT"):
        return len(sys.stdin.buffer.read())
    return None


def row(name, value):
    shown = '<em class="muted">(unset)</em>' if value is None else "<code>%s</code>" % html.escape(value)
    return "<tr><th>%s</th><td>%s</td></tr>" % (html.escape(name), shown)


def main():
    env = os.environ
    rows = [row(n, env.get(n)) for n in NAMES]
    http = sorted(k for k in env if k.startswith("HTTP_"))
    rows += [row(k, env[k]) for k in http]
    length = body_length()
    page = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hello.py — CGI environment</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<main class="wrap">
<h1>Hello from Python CGI</h1>
<p class="lead">Method <code>%s</code> on <code>%s</code>, Python %s, pid %d.%s</p>
<div class="card"><table>
%s
</table></div>
<p><a href="/cgi-bin/hello.py/extra/path?x=1&amp;y=2">Try a PATH_INFO and a query</a> · <a href="/">Home</a></p>
</main>
</body>
</html>
""" % (
        html.escape(env.get("REQUEST_METHOD", "?")),
        html.escape(env.get("REQUEST_URI", env.get("SCRIPT_NAME", "?"))),
        html.escape(sys.version.split()[0]),
        os.getpid(),
        "" if length is None else " Body: %d bytes." % length,
        "\n".join(rows),
    )
    out = page.encode("utf-8")
    sys.stdout.buffer.write(b"Content-Type: text/html; charset=utf-8\r\n")
    sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n" % len(out))
    sys.stdout.buffer.write(out)


main()
