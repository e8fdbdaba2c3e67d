"""Scrapes a Prometheus endpoint and prints its samples as JSON, read by Prometheus' own
Python client (prometheus_client's text parser), so the tests check what a real scraper sees.

Usage: scrape_metrics.py URL  ->  [{"name": ..., "labels": {...}, "value": ...}, ...]
"""
import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
    content_type = response.headers.get("Content-Type", "")
    text = response.read().decode("utf-8")
samples = []
for family in text_string_to_metric_families(text):
    for sample in family.samples:
        samples.append({"name": sample.name, "labels": sample.labels, "value": sample.value, "type": family.type})
json.dump({"contentType": content_type, "samples": samples}, sys.stdout)
