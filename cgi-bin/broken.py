#!/usr/bin/env python3
"""CGI test helper: fails before writing any header; the server must answer 502."""
import sys

sys.stderr.write("broken.py: failing on purpose\n")
sys.exit(1)
