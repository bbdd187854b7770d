"""``asg-terminator deploy``: package ``tasks/`` and deploy ``infra/template.yaml`` with CloudFormation.

What ``sam package`` + ``sam deploy`` do, with boto3 only: the Lambda code (``tasks/`` and its
dependencies as requirements.txt locks them, hashes checked, built for the functions' arm64 Python
runtime) and the state machine definition go
to an S3 bucket, the template's local ``CodeUri``/``DefinitionUri`` become those S3 locations, the
SAM transform is applied here (aws-sam-translator, the library CloudFormation runs for it), and
the stack is created or updated.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from typing import TYPE_CHECKING, Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from asg_terminator.paths import LOCK, RELEASE_ASL, SAM_TEMPLATE, TASKS, checkout_file

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

DEPLOY_SERVICES = ("cloudformation", "s3", "iam", "sts")
LAMBDA_PLATFORM = "manylinux2014_aarch64"
LAMBDA_PYTHON = "3.12"


def code_zip(dependencies_dir: Path | None) -> bytes:
    """``tasks/`` (without caches) plus the installed dependencies, as Lambda's deployment package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        roots = [(TASKS.parent, TASKS)]
        if dependencies_dir is not None:
            roots.append((dependencies_dir, dependencies_dir))
        for base, folder in roots:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    info = zipfile.ZipInfo(path.relative_to(base).as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def install_dependencies(target: Path, lock: Path = LOCK, index: Sequence[str] = ()) -> None:
    """The Lambda runtime's wheels of the lock (requirements.txt; boto3 comes with the runtime),
    each checked against its hash: a file that differs from the one locked, or a dependency the lock
    leaves out, fails the deploy.
    ``index``: pip options saying where from (default: pip's own configuration).
    The lock is the checkout's: an installed wheel does not ship it (FileNotFoundError saying so)."""
    lock = checkout_file(lock)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--require-hashes",
            "--target",
            str(target),
            "--platform",
            LAMBDA_PLATFORM,
            "--python-version",
            LAMBDA_PYTHON,
            "--only-binary=:all:",
            "--implementation",
            "cp",
            *index,
            "-r",
            str(lock),
        ],
        check=True,
    )


def packaged_template(code_uri: str, definition_uri: str, template: Path = SAM_TEMPLATE) -> dict[str, Any]:
    """The template as ``sam package`` leaves it: local paths replaced by S3 locations."""
    document: dict[str, Any] = yaml_parse(template.read_text(encoding="utf-8"))
    document["Globals"]["Function"]["CodeUri"] = code_uri
    for resource in document["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = code_uri
        if resource["Type"] == "AWS::Serverless::StateMachine":
            local = (template.parent / properties["DefinitionUri"]).resolve()
            if local != RELEASE_ASL.resolve():
                raise ValueError(f"the state machine's DefinitionUri is {local}, not {RELEASE_ASL}")
            properties["DefinitionUri"] = definition_uri
    return document


class _PolicyLoader:
    """AWS managed policies by name, for the SAM translator (the template names none; SAM adds
    the VPC access policy by ARN), loaded from IAM only if ever asked."""

    def __init__(self, iam: Any) -> None:
        self._iam = iam

    def load(self) -> dict[str, str]:
        policies: dict[str, str] = {}
        for page in self._iam.get_paginator("list_policies").paginate(Scope="AWS"):
            policies.update({p["PolicyName"]: p["Arn"] for p in page["Policies"]})
        return policies


def cloudformation_template(
    code_uri: str, definition_uri: str, parameters: dict[str, Any], pseudo: dict[str, str], iam: Any
) -> dict[str, Any]:
    """The packaged template with the SAM transform applied here, by the library AWS runs for it.

    Plain CloudFormation then deploys through any CloudFormation API, AWS's or a local one.
    """
    values = {**parameters, **{f"AWS::{k}": v for k, v in pseudo.items()}}
    translated: dict[str, Any] = transform(
        packaged_template(code_uri, definition_uri),
        values,
        _PolicyLoader(iam),
    )
    return translated


def upload(bucket: str, s3: Any, dependencies_dir: Path | None) -> tuple[str, str]:
    """Upload the code package and the definition; returns their S3 URIs (content-addressed)."""
    code = code_zip(dependencies_dir)
    definition = RELEASE_ASL.read_bytes()
    code_key = f"asg-terminator/{hashlib.sha256(code).hexdigest()[:16]}.zip"
    definition_key = f"asg-terminator/{hashlib.sha256(definition).hexdigest()[:16]}.asl.json"
    s3.put_object(Bucket=bucket, Key=code_key, Body=code)
    s3.put_object(Bucket=bucket, Key=definition_key, Body=definition)
    return f"s3://{bucket}/{code_key}", f"s3://{bucket}/{definition_key}"


def deploy(
    stack: str,
    bucket: str,
    parameters: dict[str, str],
    clients: dict[str, Any],
    dependencies_dir: Path | None,
    say: Any = print,
) -> str:
    """Upload, then create or update ``stack``; returns the final stack status.

    ``clients`` holds boto3 clients for cloudformation, s3, iam and sts.
    """
    cloudformation = clients["cloudformation"]
    code_uri, definition_uri = upload(bucket, clients["s3"], dependencies_dir)
    say(f"uploaded {code_uri} and {definition_uri}")
    identity = clients["sts"].get_caller_identity()
    pseudo = {
        "Region": cloudformation.meta.region_name,
        "AccountId": identity["Account"],
        "Partition": identity["Arn"].split(":")[1],
        "StackName": stack,
    }
    template = cloudformation_template(code_uri, definition_uri, dict(parameters), pseudo, clients["iam"])
    request = {
        "StackName": stack,
        "TemplateBody": json.dumps(template),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": ["CAPABILITY_IAM"],
    }
    if _stack_exists(cloudformation, stack):
        try:
            cloudformation.update_stack(**request)
        except cloudformation.exceptions.ClientError as e:
            if "No updates are to be performed" not in str(e):
                raise
            say(f"stack {stack} is already up to date")
            return str(cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])
        say(f"updating stack {stack} ...")
        cloudformation.get_waiter("stack_update_complete").wait(StackName=stack, WaiterConfig={"Delay": 5})
    else:
        cloudformation.create_stack(**request)
        say(f"creating stack {stack} ...")
        cloudformation.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 5})
    return str(cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])


def build_dependencies(target: Path, say: Any = print) -> Path:
    checkout_file(LOCK)  # before saying anything: from an installed wheel, deploy stops here
    say("installing the Lambda package's dependencies for python3.12/arm64 ...")
    install_dependencies(target)
    return target


def _stack_exists(cloudformation: Any, stack: str) -> bool:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except cloudformation.exceptions.ClientError:
        return False
    return bool(stacks) and stacks[0]["StackStatus"] not in ("REVIEW_IN_PROGRESS", "DELETE_COMPLETE")


def state_machine_arn(cloudformation: Any, stack: str) -> str:
    """The release state machine of a deployed stack (its ``StateMachineArn`` output)."""
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == "StateMachineArn":
            return str(output["OutputValue"])
    raise KeyError(f"stack {stack} has no StateMachineArn output")
