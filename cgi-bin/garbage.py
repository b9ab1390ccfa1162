#!/usr/bin/env python3
"""CGI test helper: writes a line that is not a CGI header, then exits 0; the server must answer 502."""
import sys

sys.stdout.buffer.write(b"this is not a header\r\n\r\nand this is not a body\r\n")
