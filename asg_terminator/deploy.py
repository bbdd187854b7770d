"""``asg-terminator deploy``: package ``tasks/`` and deploy ``infra/template.yaml`` with CloudFormation.

What ``sam package`` + ``sam deploy`` do, with boto3 only: the Lambda code (``tasks/`` and its
dependencies, built for the functions' arm64 Python runtime) and the state machine definition go
to an S3 bucket, the template's local ``CodeUri``/``DefinitionUri`` become those S3 locations, and
a CloudFormation change set (which expands the SAM transform) creates or updates the stack.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from asg_terminator.paths import RELEASE_ASL, ROOT, SAM_TEMPLATE

LAMBDA_PLATFORM = "manylinux2014_aarch64"
LAMBDA_PYTHON = "3.12"


def code_zip(dependencies_dir: Path | None) -> bytes:
    """``tasks/`` (without caches) plus the installed dependencies, as Lambda's deployment package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        roots = [(ROOT, ROOT / "tasks")]
        if dependencies_dir is not None:
            roots.append((dependencies_dir, dependencies_dir))
        for base, folder in roots:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    info = zipfile.ZipInfo(path.relative_to(base).as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def install_dependencies(target: Path) -> None:
    """The Lambda runtime's wheels of requirements.txt (boto3 comes with the runtime)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--target",
            str(target),
            "--platform",
            LAMBDA_PLATFORM,
            "--python-version",
            LAMBDA_PYTHON,
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "-r",
            str(ROOT / "requirements.txt"),
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


def deploy(stack: str, bucket: str, parameters: dict[str, str], cloudformation: Any, s3: Any, say: Any = print) -> str:
    """Upload, then create or update ``stack`` through a change set; returns the final stack status."""
    with tempfile.TemporaryDirectory() as scratch:
        say("installing the Lambda package's dependencies for python3.12/arm64 ...")
        install_dependencies(Path(scratch))
        code = code_zip(Path(scratch))
    code_key = f"asg-terminator/{hashlib.sha256(code).hexdigest()[:16]}.zip"
    definition = RELEASE_ASL.read_bytes()
    definition_key = f"asg-terminator/{hashlib.sha256(definition).hexdigest()[:16]}.asl.json"
    s3.put_object(Bucket=bucket, Key=code_key, Body=code)
    s3.put_object(Bucket=bucket, Key=definition_key, Body=definition)
    say(f"uploaded s3://{bucket}/{code_key} ({len(code) / 1e6:.1f} MB) and the definition")
    body = json.dumps(packaged_template(f"s3://{bucket}/{code_key}", f"s3://{bucket}/{definition_key}"))
    exists = _stack_exists(cloudformation, stack)
    change_set = cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName=f"asg-terminator-{hashlib.sha256(body.encode()).hexdigest()[:12]}",
        ChangeSetType="UPDATE" if exists else "CREATE",
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    cloudformation.get_waiter("change_set_create_complete").wait(ChangeSetName=change_set["Id"])
    cloudformation.execute_change_set(ChangeSetName=change_set["Id"])
    waiter = "stack_update_complete" if exists else "stack_create_complete"
    say(f"{'updating' if exists else 'creating'} stack {stack} ...")
    cloudformation.get_waiter(waiter).wait(StackName=stack)
    return str(cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])


def _stack_exists(cloudformation: Any, stack: str) -> bool:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except cloudformation.exceptions.ClientError:
        return False
    return bool(stacks) and stacks[0]["StackStatus"] != "REVIEW_IN_PROGRESS"


def state_machine_arn(cloudformation: Any, stack: str) -> str:
    """The release state machine of a deployed stack (its ``StateMachineArn`` output)."""
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == "StateMachineArn":
            return str(output["OutputValue"])
    raise KeyError(f"stack {stack} has no StateMachineArn output")
