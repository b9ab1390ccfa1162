#!/usr/bin/env python3
"""CGI demo: a script-chosen status (RFC 3875 §6.3.3): 404 with its own small body."""
import sys

body = b"<!DOCTYPE html>\n<title>404 from a script</title>\n<h1>404 Not Found</h1>\n<p>This status came from cgi-bin/status.py.</p>\n"
sys.stdout.buffer.write(
    b"Status: 404 Not Found\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n" % len(body)
)
sys.stdout.buffer.write(body)
