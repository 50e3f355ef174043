"""Prints the emulator's world (GET /_emulator/state) as a table for people."""
import json
import sys
import urllib.request

url = sys.argv[1].rstrip("/")
with urllib.request.urlopen(f"{url}/_emulator/state") as response:
    state = json.load(response)

print(f"Emulator clock: {state['clock']['iso']}")
for region, content in state["regions"].items():
    groups = content["stream_groups"]
    print(f"\n{region}: {len(groups)} stream groups, {content['applications']} applications")
    print(f"  {'id':<13} {'description':<22} {'class':<18} {'status':<19} {'age':>5} {'expires':>8}  locations (always-on/allocated/idle)  sessions")
    for g in sorted(groups, key=lambda g: g["age_days"]):
        locations = ", ".join(
            f"{l['name']}[{l['status']}] {l['always_on']}/{l['allocated']}/{l['idle']}" for l in g["locations"]
        )
        sessions = ", ".join(f"{k}={v}" for k, v in sorted(g["sessions"].items())) or "-"
        status = g["status"] + (f" ({g['status_reason']})" if g.get("status_reason") else "")
        print(
            f"  {g['id']:<13} {g['description'][:22]:<22} {g['stream_class']:<18} {status:<19} "
            f"{g['age_days']:>4}d {g['expires_in_days']:>7}d  {locations}  {sessions}"
        )
