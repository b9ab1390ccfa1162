#!/usr/bin/env python3
"""CGI test helper: the whole environment as sorted KEY=VALUE lines, in text/plain."""
import os
import sys

# Drain the body, if any, so the server never writes into a closed pipe.
if os.environ.get("CONTENT_LENGTH") or os.environ.get("REQUEST_METHOD") in ("POST", "PUT"):
    sys.stdin.buffer.read()

lines = "".join("%s=%s\n" % (k, v) for k, v in sorted(os.environ.items()))
sys.stdout.buffer.write(b"Content-Type: text/plain; charset=utf-8\r\n\r\n")
sys.stdout.buffer.write(lines.encode("utf-8", "surrogateescape"))
