"""Create Auto Scaling groups for the demo and the tests (in moto, or any AWS-compatible endpoint)."""

from __future__ import annotations

from typing import Any

from tasks.domain.events import APP_TAG, ENABLED_TAG

DEFAULT_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def create_asg(
    autoscaling: Any,
    ec2: Any,
    name: str,
    instances: int,
    zones: tuple[str, ...] = DEFAULT_ZONES,
    max_size: int | None = None,
    tags: dict[str, str] | None = None,
    image_id: str | None = None,
    opted_in: bool = True,
) -> list[str]:
    """An ASG of ``instances`` InService instances; returns their ids.

    ``opted_in``: unless ``tags`` say otherwise, the group opts in (``asg-terminator:app`` = its name),
    as a release requires; False creates a group that has not. ``image_id`` skips looking an image up.
    """
    template = f"{name}-lt"
    image = image_id or an_image(ec2)
    existing = ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": [template]}])[
        "LaunchTemplates"
    ]
    if not existing:
        ec2.create_launch_template(
            LaunchTemplateName=template,
            LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"},
        )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
        MinSize=0,
        MaxSize=max_size if max_size is not None else max(instances * 2, 1),
        DesiredCapacity=instances,
        AvailabilityZones=list(zones),
        Tags=[
            {"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": name, "ResourceType": "auto-scaling-group"}
            for k, v in _tags(name, tags or {}, opted_in).items()
        ],
    )
    return instance_ids(autoscaling, name)


# An image each endpoint has, looked up once per process: moto's DescribeImages lists its 1,300
# images in 2 to 4 s, and moto's images are the same in every account and every reset.
_IMAGES: dict[tuple[str, str], str] = {}


def an_image(ec2: Any) -> str:
    where = (str(ec2.meta.endpoint_url), str(ec2.meta.region_name))
    if where not in _IMAGES:
        _IMAGES[where] = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    return _IMAGES[where]


def _tags(name: str, tags: dict[str, str], opted_in: bool) -> dict[str, str]:
    if opted_in and APP_TAG not in tags and ENABLED_TAG not in tags:
        return {APP_TAG: name, **tags}
    return tags


def instance_ids(autoscaling: Any, name: str) -> list[str]:
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return [i["InstanceId"] for g in groups for i in g.get("Instances", [])]
