#!/usr/bin/env python3
"""CGI demo: a local redirect (RFC 3875 §6.2.2): only a local Location, no body; the server serves that path."""
import sys

sys.stdout.buffer.write(b"Location: /index.html\r\n\r\n")
