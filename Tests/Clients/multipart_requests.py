"""Posts files to hello's /multipart with Python requests (files=) and checks the JSON answer.

Usage: multipart_requests.py BASE_URL
Prints "ok" and exits 0 when every check passes; raises otherwise.
"""
import hashlib
import io
import sys

import requests

base = sys.argv[1]
content = bytes(range(256)) * 4096 + b"\r\n--not-the-boundary\r\n"  # 1 MiB and a bit
files = [
    ("doc", ("report.bin", io.BytesIO(content), "application/octet-stream")),
    ("note", ("n\u00e4me.txt", io.BytesIO(b"hello"), "text/plain")),
]
response = requests.post(base + "/multipart", data={"title": "T\u00fcte"}, files=files, timeout=30)
assert response.status_code == 200, (response.status_code, response.text)
parts = response.json()
assert [p["name"] for p in parts] == ["title", "doc", "note"], parts
assert parts[0]["filename"] is None and parts[0]["content_type"] is None, parts[0]
assert parts[0]["size"] == len("T\u00fcte".encode()), parts[0]
assert parts[1] == {
    "name": "doc", "filename": "report.bin", "content_type": "application/octet-stream",
    "size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
}, parts[1]
# requests (urllib3) sends a non-ASCII name as filename*=utf-8''… or quoted UTF-8: either decodes.
assert parts[2]["filename"] == "n\u00e4me.txt", parts[2]
assert parts[2]["sha256"] == hashlib.sha256(b"hello").hexdigest()

# Not multipart: 415 naming what was expected.
bad = requests.post(base + "/multipart", data=b"x", headers={"Content-Type": "text/plain"}, timeout=10)
assert bad.status_code == 415, bad.status_code
assert "multipart/form-data" in bad.text
print("ok")
