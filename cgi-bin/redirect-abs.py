#!/usr/bin/env python3
"""CGI demo: a client redirect with document (RFC 3875 §6.2.4): 302 to an absolute URL."""
import sys

body = b'<!DOCTYPE html>\n<title>Moved</title>\n<p>Moved to <a href="http://example.com/">http://example.com/</a>.</p>\n'
sys.stdout.buffer.write(
    b"Status: 302 Found\r\nLocation: http://example.com/\r\n"
    b"Content-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n" % len(body)
)
sys.stdout.buffer.write(body)
