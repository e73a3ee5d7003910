"""Runs moto's EC2/STS server on 127.0.0.1:<port> for the tests, until stdin closes.

Usage: python3 scripts/moto_server.py <port>   (prints "ready" once it serves)
"""
import sys

from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]))
server.start()
print("ready", flush=True)
try:
    sys.stdin.read()
finally:
    server.stop()
