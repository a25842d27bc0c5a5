"""Evaluates every query of the Grafana dashboard (and every alert rule) on a live Prometheus.

Usage: check-grafana.py PROMETHEUS_URL DASHBOARD_JSON ALERT_RULES_YAML REQUIRED_METRIC...
Each expression must evaluate without error; each panel whose query names one of the
REQUIRED metrics (those the scraped targets serve) must return data. Prints one line per
panel and exits non-zero on the first problem it cannot live with.
"""
import json
import re
import sys
import urllib.parse
import urllib.request

import yaml


def query(base, expr):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise SystemExit(f"query failed: {expr}: {body}")
    return body["data"]["result"]


def main(base, dashboard, rules, required):
    problems = 0
    panels = json.load(open(dashboard))["panels"]
    for panel in panels:
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "30s").replace("$queue", ".*")
            result = query(base, expr)
            names = set(re.findall(r"\bkale_[a-z_]+", expr))
            base_names = {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}
            needs_data = bool(base_names & required)
            ok = bool(result) or not needs_data
            print(f"{'ok  ' if ok else 'FAIL'} {panel['title']} [{target['refId']}]: {len(result)} series")
            problems += 0 if ok else 1
    for group in yaml.safe_load(open(rules))["groups"]:
        for rule in group["rules"]:
            query(base, rule["expr"])
            print(f"ok   alert {rule['alert']} evaluates")
    if problems:
        raise SystemExit(f"{problems} panel queries returned no data")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4:]))
