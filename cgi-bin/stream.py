#!/usr/bin/env python3
"""CGI demo: ten lines, 0.2 s apart, with no Content-Length, so the server sends them chunked."""
import sys
import time

out = sys.stdout.buffer
out.write(b"Content-Type: text/plain; charset=utf-8\r\n\r\n")
out.flush()
for i in range(1, 11):
    out.write(b"line %d of 10\n" % i)
    out.flush()
    if i < 10:
        time.sleep(0.2)
