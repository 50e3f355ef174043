"""Derives org/spoke-remediation.json, the remediation functions for each member account of an
organisation, from template.yaml, so that every function, its IAM and its alarms stay described
once.

Why a derived template: StackSets with service-managed permissions cannot take a template that
references a macro, and the AWS::Serverless transform is one (the CloudFormation API reference,
CreateStackSet, Capabilities: "StackSets with service-managed permissions don't currently
support the use of macros in templates. (This includes the AWS::Include and AWS::Serverless
transforms ...)"). So this expands template.yaml with the SAM translator itself, then keeps
everything but what the organisation's hub does for every account:

- the scanner and the resources only it uses: the hub scans each account through its read role;
- the alarms and the dashboard on the scanner's metrics: the hub publishes those centrally;
- anything that refers to a dropped resource (the function-errors alarm names the scanner).

Three changes remain, each with its reason:
- a function's code comes from a bucket in the stack's own Region (Lambda reads its code from
  the function's Region), named <CodeBucketPrefix>-<Region>; `scripts/spoke-remediation --code`
  makes the archives;
- the trimmer reads demand from the service's own metric: the scanner's InUseCapacity is
  published in the hub's account, not here;
- ARNs the translator writes name the partition as ${AWS::Partition}, not the one of the
  Region it ran for.

Usage: spoke_remediation.py TEMPLATE OUTPUT    (scripts/spoke-remediation runs it)
"""

import copy
import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

# What the hub does for every account, each with the resources only it needs.
HUB_COVERS = {
    "ScannerFunction": "the hub's scanner reads this account through the spoke's read role",
    "ScannerLogGroup": "the scanner's logs",
    "ScannerScheduleDLQ": "the scanner's schedule",
    "ExpirySoonAlarm": "a scanner metric: the hub alarms on it for every account",
    "GroupErrorsAlarm": "a scanner metric",
    "IdleCapacityAlarm": "a scanner metric",
    "ScannerNotRunningAlarm": "a scanner metric",
    "AlertMemoryFullAlarm": "a scanner metric",
    "Dashboard": "the hub's dashboard shows every account",
    "DashboardUrl": "the dashboard's output",
}

CODE_BUCKET_PREFIX = {
    "Type": "String",
    "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,40}[a-z0-9]$",
    "Description": (
        "Buckets holding the functions' code, one per Region: <prefix>-<Region>, each with the "
        "archives scripts/spoke-remediation --code makes (Lambda reads code from the function's Region)."
    ),
}
CODE_KEY_PREFIX = {
    "Type": "String",
    "Default": "gls-watchdog/",
    "Description": "Key prefix of the archives in those buckets (e.g. a version: gls-watchdog/1.4.0/).",
}


class NoManagedPolicies:
    """The template names no AWS managed policy, so the translator needs no IAM lookup."""

    def load(self):
        return {}


def references(node):
    """Logical ids and parameters a template fragment refers to, and the conditions it uses."""
    names, conditions = set(), set()

    def walk(value):
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "Ref" and isinstance(inner, str):
                    names.add(inner)
                elif key == "Fn::GetAtt":
                    names.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
                elif key == "Fn::Sub":
                    text = inner[0] if isinstance(inner, list) else inner
                    names.update(sub_names(text))
                elif key in ("Condition", "Fn::If") and isinstance(inner, (str, list)):
                    conditions.add(inner if isinstance(inner, str) else inner[0])
                elif key == "DependsOn":
                    names.update([inner] if isinstance(inner, str) else inner)
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(node)
    return names, conditions


def sub_names(text):
    """The names a Fn::Sub string refers to: ${Name} and ${Name.Attribute}, not ${!Literal}."""
    found, rest = set(), text
    while "${" in rest:
        rest = rest[rest.index("${") + 2 :]
        name = rest[: rest.index("}")]
        if not name.startswith("!") and not name.startswith("AWS::"):
            found.add(name.split(".")[0])
    return found


def partition_neutral(node):
    """Every literal "arn:aws:..." as Fn::Sub "arn:${AWS::Partition}:...", for any partition."""
    if isinstance(node, dict):
        return {key: partition_neutral(value) for key, value in node.items()}
    if isinstance(node, list):
        return [partition_neutral(value) for value in node]
    if isinstance(node, str) and node.startswith("arn:aws:"):
        return {"Fn::Sub": "arn:${AWS::Partition}:" + node[len("arn:aws:") :]}
    return node


def spoke_template(template):
    expanded = transform(copy.deepcopy(template), {}, NoManagedPolicies())
    resources = expanded["Resources"]

    # Drop what the hub covers (with what SAM generated for it, named after it: ScannerFunctionRole,
    # ScannerFunctionSchedule, ...), and then whatever refers to something dropped.
    dropped = {name for name in resources if any(name.startswith(covered) for covered in HUB_COVERS)}
    changed = True
    while changed:
        changed = False
        for name, resource in resources.items():
            if name not in dropped and references(resource)[0] & dropped:
                dropped.add(name)
                changed = True
    kept = {name: resource for name, resource in resources.items() if name not in dropped}

    for resource in kept.values():
        if resource["Type"] == "AWS::Lambda::Function":
            binary = resource["Properties"]["Code"]["S3Key"]
            resource["Properties"]["Code"] = {
                "S3Bucket": {"Fn::Sub": "${CodeBucketPrefix}-${AWS::Region}"},
                "S3Key": {"Fn::Sub": "${CodeKeyPrefix}" + binary},
            }

    # The translator writes the partition of the Region it ran for into managed policy ARNs.
    kept = partition_neutral(kept)

    # Keep the conditions and parameters the kept resources use (conditions use parameters).
    used_names, used_conditions = references(kept)
    conditions = expanded.get("Conditions", {})
    pending = list(used_conditions)
    while pending:
        condition = pending.pop()
        inner_names, inner_conditions = references(conditions[condition])
        used_names |= inner_names
        for inner in inner_conditions - used_conditions:
            used_conditions.add(inner)
            pending.append(inner)
    outputs = {
        name: output
        for name, output in expanded.get("Outputs", {}).items()
        if name not in HUB_COVERS and not references(output)[0] & dropped
    }
    used_names |= references(outputs)[0]

    parameters = {name: value for name, value in expanded["Parameters"].items() if name in used_names}
    if "DemandSource" in parameters:
        parameters["DemandSource"] = dict(
            parameters["DemandSource"],
            Default="service",
            AllowedValues=["service"],
            Description=(
                "Where the trimmer reads demand: the service's own AWS/GameLiftStreams ActiveCapacity "
                "(the watchdog's InUseCapacity is published in the hub's account)."
            ),
        )
    parameters["CodeBucketPrefix"] = CODE_BUCKET_PREFIX
    parameters["CodeKeyPrefix"] = CODE_KEY_PREFIX

    groups = []
    for group in template.get("Metadata", {}).get("AWS::CloudFormation::Interface", {}).get("ParameterGroups", []):
        names = [name for name in group["Parameters"] if name in parameters]
        if names:
            groups.append(dict(group, Parameters=names))
    groups.append({"Label": {"default": "Code"}, "Parameters": ["CodeBucketPrefix", "CodeKeyPrefix"]})

    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "gls-watchdog spoke remediation: the recycler and the trimmer of template.yaml, acting "
            "only in this account (opt-in, dry run first), for StackSets with service-managed "
            "permissions. Generated from template.yaml by scripts/spoke-remediation; do not edit."
        ),
        "Metadata": {"AWS::CloudFormation::Interface": {"ParameterGroups": groups}},
        "Parameters": parameters,
        "Conditions": {name: conditions[name] for name in sorted(used_conditions)},
        "Resources": kept,
        "Outputs": outputs,
    }


def main():
    source, output = sys.argv[1], sys.argv[2]
    # The translator wants a Region. A fixed one, not the caller's, so that the output is the
    # same on every machine (partition_neutral leaves nothing of it in the output).
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    with open(source, encoding="utf-8") as file:
        template = yaml_parse(file.read())
    # The archives' names: the binary each function's build produces.
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            binary = resource["Metadata"]["BuildProperties"]["Binary"]
            resource["Properties"]["CodeUri"] = f"s3://code-bucket/{binary}.zip"
    with open(output, "w", encoding="utf-8") as file:
        json.dump(spoke_template(template), file, indent=1, sort_keys=False)
        file.write("\n")


if __name__ == "__main__":
    main()
