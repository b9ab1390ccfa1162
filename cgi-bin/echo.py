#!/usr/bin/env python3
"""CGI test helper: writes the request body back byte for byte, as it arrives (no Content-Length)."""
import os
import sys

out = sys.stdout.buffer
out.write(b"Content-Type: application/octet-stream\r\n\r\n")
out.flush()
# read1 returns what is available (up to 64 KiB) instead of waiting for a full buffer.
inp = sys.stdin.buffer
while True:
    chunk = inp.read1(65536)
    if not chunk:
        break
    out.write(chunk)
    out.flush()
