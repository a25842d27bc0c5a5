"""Scrapes a Prometheus endpoint and prints its samples as JSON lines.

Parsed with prometheus_client's own text-format parser (pinned in the test venv), so the
exposition Kale writes is checked by the reference implementation, not by Kale's tests.
Usage: metrics.py URL
"""
import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        content_type = response.headers.get("Content-Type", "")
        text = response.read().decode("utf-8")
    if not content_type.startswith("text/plain; version=0.0.4"):
        raise SystemExit(f"unexpected Content-Type {content_type!r}")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            print(json.dumps({"family": family.name, "type": family.type, "name": sample.name,
                              "labels": sample.labels, "value": sample.value}))


if __name__ == "__main__":
    main(sys.argv[1])
