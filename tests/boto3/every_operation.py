"""Every operation of Amazon GameLift Streams against the emulator, through boto3: a second
client, independent of the Rust SDK, whose botocore carries AWS's own copy of the service
model. Each raw HTTP response is checked against that model: the status code, every member's
type, enum values, string and list lengths, required members, and no member the model does not
define; error responses carry an error type the operation may return and only `Message`.

Usage: python every_operation.py ENDPOINT_URL
Prints a JSON report; exits 1 when any response breaks the model or an operation was not called.
"""

import json
import sys
import urllib.request

import boto3
import botocore
from botocore.config import Config

ENDPOINT = sys.argv[1]
REGION = "us-west-2"

client = boto3.client(
    "gameliftstreams",
    endpoint_url=ENDPOINT,
    region_name=REGION,
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
    # The emulator, not botocore, must refuse bad input: no client-side validation.
    config=Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False),
)
model = client.meta.service_model
problems = []
called = {}


def admin(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        ENDPOINT + path, data=data, method="POST" if data else "GET", headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


def advance(seconds):
    admin("/_emulator/clock", {"advance_seconds": seconds})


def check_value(shape, value, path):
    """Checks one decoded JSON value against a botocore shape."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return problems.append(f"{path}: expected an object, got {value!r}")
        members = {m.serialization.get("name", name): (name, m) for name, m in shape.members.items()}
        for key, item in value.items():
            if key not in members:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
                continue
            check_value(members[key][1], item, f"{path}.{key}")
        for required in shape.required_members:
            if required not in value:
                problems.append(f"{path}: required member {required} of {shape.name} is missing")
    elif kind == "list":
        if not isinstance(value, list):
            return problems.append(f"{path}: expected a list, got {value!r}")
        check_size(shape, len(value), path)
        for i, item in enumerate(value):
            check_value(shape.member, item, f"{path}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            return problems.append(f"{path}: expected a map, got {value!r}")
        check_size(shape, len(value), path)
        for key, item in value.items():
            check_value(shape.key, key, f"{path}<key>")
            check_value(shape.value, item, f"{path}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            return problems.append(f"{path}: expected a string, got {value!r}")
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.name} {shape.enum}")
        check_size(shape, len(value), path)
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return problems.append(f"{path}: expected an integer, got {value!r}")
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            problems.append(f"{path}: {value} is outside {low}..{high}")
    elif kind == "timestamp":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: a restJson1 timestamp is epoch seconds, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean, got {value!r}")
    else:
        problems.append(f"{path}: shape type {kind} is not checked by this script")


def check_size(shape, size, path):
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and size < low) or (high is not None and size > high):
        problems.append(f"{path}: size {size} is outside {low}..{high}")


def on_response(http_response, parsed, model, **_):
    """botocore's after-call hook: the raw response before any parsing forgives it."""
    name = model.name
    status = http_response.status_code
    raw = http_response.content
    body = json.loads(raw) if raw.strip() else None
    error_type = http_response.headers.get("x-amzn-errortype")
    entry = called.setdefault(name, {"ok": 0, "errors": []})
    if status >= 300:
        entry["errors"].append(error_type)
        allowed = [e.name for e in model.error_shapes]
        if error_type not in allowed:
            problems.append(f"{name}: error type {error_type!r} is not one the model lists for it: {allowed}")
        else:
            error_shape = next(e for e in model.error_shapes if e.name == error_type)
            if status != error_shape.metadata.get("error", {}).get("httpStatusCode"):
                problems.append(f"{name}: {error_type} came with HTTP {status}")
            check_value(error_shape, body or {}, f"{name}!{error_type}")
        return
    entry["ok"] += 1
    expected = model.http.get("responseCode", 200)
    if status != expected:
        problems.append(f"{name}: HTTP {status}, the model says {expected}")
    if model.output_shape is None:
        if body:
            problems.append(f"{name}: the model has no output, the emulator sent {body!r}")
        return
    check_value(model.output_shape, body if body is not None else {}, name)


client.meta.events.register("after-call.gameliftstreams", on_response)


def expect_error(code, call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as error:
        got = error.response["Error"]["Code"]
        if got != code:
            problems.append(f"{call.__name__}: expected {code}, got {got}")
        return
    problems.append(f"{call.__name__}: expected {code}, the call succeeded")


# ---- a scenario that reaches every operation ----
app = client.create_application(
    Description="boto3 game",
    RuntimeEnvironment={"Type": "PROTON", "Version": "20241007"},
    ExecutablePath="game/run.sh",
    ApplicationSourceUri="s3://builds/game/",
    Tags={"team": "boto3"},
)
advance(10)
client.get_application(Identifier=app["Id"])
client.list_applications(MaxResults=10)
client.update_application(Identifier=app["Id"], Description="boto3 game v2")
client.list_application_shader_caches(Identifier="a-CACHED0001")

group = client.create_stream_group(
    Description="boto3 group",
    StreamClass="gen5n_ultra",
    DefaultApplicationIdentifier=app["Id"],
    LocationConfigurations=[
        {"LocationName": REGION, "AlwaysOnCapacity": 2, "TargetIdleCapacity": 1, "MaximumCapacity": 4},
        {
            "LocationName": "us-east-1",
            "AlwaysOnCapacity": 1,
            "VpcTransitConfiguration": {"VpcId": "vpc-0123", "Ipv4CidrBlocks": ["10.10.0.0/16"]},
        },
    ],
    Tags={"env": "test"},
)
gid = group["Id"]
advance(40)
client.get_stream_group(Identifier=gid)
client.list_stream_groups(MaxResults=5)
client.update_stream_group(
    Identifier=gid,
    LocationConfigurations=[
        {"LocationName": REGION, "AlwaysOnCapacity": 2, "TargetIdleCapacity": 0, "MaximumCapacity": 4}
    ],
)
client.add_stream_group_locations(
    Identifier=gid, LocationConfigurations=[{"LocationName": "eu-west-1", "AlwaysOnCapacity": 1}]
)
advance(30)
client.remove_stream_group_locations(Identifier=gid, Locations=["eu-west-1"])
advance(30)
client.associate_applications(Identifier=gid, ApplicationIdentifiers=["a-SPARE00001"])
client.disassociate_applications(Identifier=gid, ApplicationIdentifiers=["a-SPARE00001"])
client.tag_resource(ResourceArn=group["Arn"], Tags={"owner": "qa"})
client.list_tags_for_resource(ResourceArn=group["Arn"])
client.untag_resource(ResourceArn=group["Arn"], TagKeys=["owner"])

session = client.start_stream_session(
    Identifier=gid, ApplicationIdentifier=app["Id"], Protocol="WebRTC", SignalRequest="offer-1", UserId="player-1"
)
expect_error("ValidationException", client.terminate_stream_session, Identifier=gid, StreamSessionIdentifier=session["Arn"])
advance(10)
client.get_stream_session(Identifier=gid, StreamSessionIdentifier=session["Arn"])
client.list_stream_sessions(Identifier=gid)
client.list_stream_sessions_by_account(Status="ACTIVE")
client.export_stream_session_files(Identifier=gid, StreamSessionIdentifier=session["Arn"], OutputUri="s3://exports/")
client.create_stream_session_admin_shell(Identifier=gid, StreamSessionIdentifier=session["Arn"])
client.create_stream_session_connection(Identifier=gid, StreamSessionIdentifier=session["Arn"], SignalRequest="offer-2")
advance(10)
client.terminate_stream_session(Identifier=gid, StreamSessionIdentifier=session["Arn"])
advance(10)
client.list_stream_sessions(Identifier=gid, ExportFilesStatus="SUCCEEDED")

url = client.create_stream_url(
    Identifier=gid,
    ApplicationIdentifier=app["Id"],
    Protocol="WebRTC",
    UrlExpiresAfterMinutes=30,
    UsageLimit=2,
    Locations=[REGION],
)
admin("/_emulator/stream-urls/use", {"stream_url": url["StreamUrlId"]})
client.get_stream_url(Identifier=gid, StreamUrlIdentifier=url["StreamUrlId"])
client.list_stream_urls(StreamGroupIdentifier=gid)
client.revoke_stream_url(Identifier=gid, StreamUrlIdentifier=url["StreamUrlId"], RevocationMode="REVOKE_AND_TERMINATE_SESSIONS")
client.get_stream_url(Identifier=gid, StreamUrlIdentifier=url["StreamUrlId"])

expect_error("ValidationException", client.delete_application, Identifier=app["Id"])
expect_error("ResourceNotFoundException", client.get_stream_group, Identifier="sg-NOTHERE01")
expect_error("ValidationException", client.list_stream_groups, MaxResults=500)
client.delete_stream_group(Identifier=gid)
advance(30)
client.list_stream_urls(Status="REVOKED")
client.delete_application(Identifier=app["Id"])

missing = sorted(set(model.operation_names) - set(called))
report = {
    "botocore": botocore.__version__,
    "operations_in_model": len(model.operation_names),
    "operations_called": len(called),
    "missing": missing,
    "calls": called,
    "problems": problems,
}
print(json.dumps(report, indent=2))
sys.exit(1 if problems or missing else 0)
