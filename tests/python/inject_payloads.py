"""Puts an HTML payload into every string of an APD or scores file that can
reach apd-report's page, keeping the file valid: every graph metadata string
(the schema aside), every node id (links and instance paths follow), and a
scores file's file names. The report test renders the result in Chromium.

  inject_payloads.py apd|scores IN OUT PAYLOAD
"""
import json
import sys

kind, source, target, payload = sys.argv[1:5]
doc = json.load(open(source))


def poisoned(value):
    if isinstance(value, str):
        return value + payload
    if isinstance(value, list):
        return [poisoned(v) for v in value]
    if isinstance(value, dict):
        return {k: poisoned(v) for k, v in value.items()}
    return value


if kind == "apd":
    doc["graph"] = {k: (v if k == "schema" else poisoned(v)) for k, v in doc["graph"].items()}
    ids = {node["id"]: f'{node["id"]}{payload}' for node in doc["nodes"]}
    for node in doc["nodes"]:
        node["id"] = ids[node["id"]]
    for link in doc["links"]:
        link["source"], link["target"] = ids[link["source"]], ids[link["target"]]
    for instance in doc["instances"]:
        instance["path"] = [ids[n] for n in instance["path"]]
else:
    for record in doc["monitor"]:
        record["monitor_file"] += payload
        record["model_file"] += payload
json.dump(doc, open(target, "w"))
