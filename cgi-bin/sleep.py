#!/usr/bin/env python3
"""CGI test helper: sleeps 60 s before answering; the server's cgi_timeout must answer 504 and kill it."""
import sys
import time

time.sleep(60)
sys.stdout.buffer.write(b"Content-Type: text/plain\r\n\r\ntoo late\n")
