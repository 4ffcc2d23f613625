#!/usr/bin/env python3
"""Checks the compatibility patches in tests/emulator/patches/ through boto3, as a client of
AWS would see them.

    .venv/bin/python tests/emulator/test_patches.py [ENDPOINT]

With ENDPOINT (e.g. http://127.0.0.1:4566, what tests/emulator_patches.rs passes) it uses
that emulator; without, it starts tests/emulator/server.py on a free port and stops it at
the end. Exits 0 when every check passes, 1 otherwise. Every test uses its own names, so
they share one emulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

# Never a real profile or real credentials, whatever the caller's environment holds.
for _name in [name for name in os.environ if name.startswith("AWS_")]:
    del os.environ[_name]
os.environ.update(
    {
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)

import boto3  # noqa: E402 - after the environment is cleaned
from botocore.exceptions import ClientError  # noqa: E402

HERE = Path(__file__).resolve().parent
DOCKER = "64bit Amazon Linux 2023 v4.6.0 running Docker"
ROLE = "arn:aws:iam::123456789012:role/codebuild"
ENDPOINT = ""


def client(service: str):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=boto3.session.Config(s3={"addressing_style": "path"}),
    )


def error_of(call, **kwargs) -> tuple[str, str]:
    """(code, message) of the ClientError `call(**kwargs)` raises; fails if it succeeds."""
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["Error"].get("Message", "")
    raise AssertionError(f"{call.__name__}({kwargs}) succeeded; an error was expected")


def describe(eb, name: str, **kwargs) -> list[dict]:
    return eb.describe_environments(EnvironmentNames=[name], **kwargs)["Environments"]


def status(eb, name: str) -> str:
    (env,) = describe(eb, name)
    return env["Status"]


ENV_VARS = "aws:elasticbeanstalk:application:environment"
LAUNCH = "aws:autoscaling:launchconfiguration"


def option(namespace: str, name: str, value: str | None = None) -> dict:
    setting = {"Namespace": namespace, "OptionName": name}
    if value is not None:
        setting["Value"] = value
    return setting


def options(settings: list[dict]) -> dict:
    return {(o["Namespace"], o["OptionName"]): o.get("Value") for o in settings}


def launch(eb, app: str, name: str, **kwargs) -> dict:
    """CreateEnvironment, then the polls until it is Ready."""
    env = eb.create_environment(
        ApplicationName=app, EnvironmentName=name, SolutionStackName=DOCKER, **kwargs
    )
    for _ in range(3):
        assert status(eb, name) == "Launching"
    assert status(eb, name) == "Ready"
    return env


# Elastic Beanstalk


def test_application_versions():
    eb = client("elasticbeanstalk")
    eb.create_application(ApplicationName="versions-app")
    created = eb.create_application_version(
        ApplicationName="versions-app",
        VersionLabel="v1",
        Description="first",
        SourceBundle={"S3Bucket": "bundles", "S3Key": "v1.zip"},
    )["ApplicationVersion"]
    assert created["VersionLabel"] == "v1"
    assert created["Description"] == "first"
    assert created["SourceBundle"] == {"S3Bucket": "bundles", "S3Key": "v1.zip"}
    assert created["Status"] == "Unprocessed"
    assert created["ApplicationVersionArn"] == (
        "arn:aws:elasticbeanstalk:us-east-1:123456789012:applicationversion/versions-app/v1"
    )
    eb.create_application_version(ApplicationName="versions-app", VersionLabel="v2")

    code, message = error_of(
        eb.create_application_version, ApplicationName="versions-app", VersionLabel="v1"
    )
    assert code == "InvalidParameterValue" and "v1" in message, (code, message)
    code, _ = error_of(eb.create_application_version, ApplicationName="nope", VersionLabel="v1")
    assert code == "InvalidParameterValue", code
    eb.create_application_version(
        ApplicationName="versions-auto", VersionLabel="v1", AutoCreateApplication=True
    )

    listed = eb.describe_application_versions(ApplicationName="versions-app")["ApplicationVersions"]
    assert sorted(v["VersionLabel"] for v in listed) == ["v1", "v2"], listed
    only = eb.describe_application_versions(ApplicationName="versions-app", VersionLabels=["v2"])
    assert [v["VersionLabel"] for v in only["ApplicationVersions"]] == ["v2"], only
    apps = {
        a["ApplicationName"]: a
        for a in eb.describe_applications(ApplicationNames=["versions-app"])["Applications"]
    }
    assert sorted(apps["versions-app"]["Versions"]) == ["v1", "v2"], apps

    eb.delete_application_version(ApplicationName="versions-app", VersionLabel="v2")
    listed = eb.describe_application_versions(ApplicationName="versions-app")["ApplicationVersions"]
    assert [v["VersionLabel"] for v in listed] == ["v1"], listed
    code, _ = error_of(
        eb.delete_application_version, ApplicationName="versions-app", VersionLabel="v2"
    )
    assert code == "InvalidParameterValue", code


def test_delete_application_version_deletes_the_source_bundle_on_request():
    eb, s3 = client("elasticbeanstalk"), client("s3")
    s3.create_bucket(Bucket="eb-bundles")
    s3.put_object(Bucket="eb-bundles", Key="keep.zip", Body=b"zip")
    s3.put_object(Bucket="eb-bundles", Key="drop.zip", Body=b"zip")
    eb.create_application(ApplicationName="bundle-app")
    for label in ("keep", "drop"):
        eb.create_application_version(
            ApplicationName="bundle-app",
            VersionLabel=label,
            SourceBundle={"S3Bucket": "eb-bundles", "S3Key": f"{label}.zip"},
        )
    eb.delete_application_version(ApplicationName="bundle-app", VersionLabel="keep")
    eb.delete_application_version(
        ApplicationName="bundle-app", VersionLabel="drop", DeleteSourceBundle=True
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="eb-bundles").get("Contents", [])]
    assert keys == ["keep.zip"], keys


def tag_map(eb, arn: str) -> dict:
    return {t["Key"]: t["Value"] for t in eb.list_tags_for_resource(ResourceArn=arn)["ResourceTags"]}


def test_application_description_and_tags():
    eb = client("elasticbeanstalk")
    created = eb.create_application(
        ApplicationName="described-app",
        Description="first",
        Tags=[{"Key": "team", "Value": "seed"}, {"Key": "tier", "Value": "dev"}],
    )["Application"]
    assert created["Description"] == "first", created
    assert "DateCreated" in created and "DateUpdated" in created, created
    arn = created["ApplicationArn"]
    assert arn == "arn:aws:elasticbeanstalk:us-east-1:123456789012:application/described-app"
    (described,) = eb.describe_applications(ApplicationNames=["described-app"])["Applications"]
    assert described["Description"] == "first", described
    listed = eb.list_tags_for_resource(ResourceArn=arn)
    assert listed["ResourceArn"] == arn, listed
    assert tag_map(eb, arn) == {"team": "seed", "tier": "dev"}

    code, message = error_of(eb.create_application, ApplicationName="described-app")
    assert code == "InvalidParameterValue" and "already exists" in message, (code, message)

    updated = eb.update_application(ApplicationName="described-app", Description="second")
    assert updated["Application"]["Description"] == "second", updated
    assert updated["Application"]["DateUpdated"] >= described["DateUpdated"], updated
    eb.update_application(ApplicationName="described-app")  # no Description: unchanged
    (described,) = eb.describe_applications(ApplicationNames=["described-app"])["Applications"]
    assert described["Description"] == "second", described
    eb.update_application(ApplicationName="described-app", Description="")  # cleared
    (described,) = eb.describe_applications(ApplicationNames=["described-app"])["Applications"]
    assert not described.get("Description"), described
    code, _ = error_of(eb.update_application, ApplicationName="nope", Description="x")
    assert code == "InvalidParameterValue", code

    eb.update_tags_for_resource(
        ResourceArn=arn,
        TagsToAdd=[{"Key": "tier", "Value": "prod"}, {"Key": "owner", "Value": "ops"}],
        TagsToRemove=["team", "never-there"],
    )
    assert tag_map(eb, arn) == {"tier": "prod", "owner": "ops"}
    eb.update_tags_for_resource(ResourceArn=arn, TagsToRemove=["owner"])
    assert tag_map(eb, arn) == {"tier": "prod"}

    # Applications made without tags, or by AutoCreateApplication, have none.
    eb.create_application_version(
        ApplicationName="auto-tagged-app", VersionLabel="v1", AutoCreateApplication=True,
        Tags=[{"Key": "build", "Value": "1"}],
    )
    (auto,) = eb.describe_applications(ApplicationNames=["auto-tagged-app"])["Applications"]
    assert tag_map(eb, auto["ApplicationArn"]) == {}
    # Application versions are tagged resources too.
    version_arn = (
        "arn:aws:elasticbeanstalk:us-east-1:123456789012:applicationversion/auto-tagged-app/v1"
    )
    assert tag_map(eb, version_arn) == {"build": "1"}
    eb.update_tags_for_resource(ResourceArn=version_arn, TagsToAdd=[{"Key": "ok", "Value": "y"}])
    assert tag_map(eb, version_arn) == {"build": "1", "ok": "y"}

    missing = "arn:aws:elasticbeanstalk:us-east-1:123456789012:application/nope"
    code, _ = error_of(eb.list_tags_for_resource, ResourceArn=missing)
    assert code == "ResourceNotFoundException", code
    code, _ = error_of(
        eb.update_tags_for_resource, ResourceArn=missing, TagsToAdd=[{"Key": "a", "Value": "b"}]
    )
    assert code == "ResourceNotFoundException", code

    eb.delete_application(ApplicationName="described-app")
    code, _ = error_of(eb.list_tags_for_resource, ResourceArn=arn)
    assert code == "ResourceNotFoundException", code


def test_environment_tags():
    eb = client("elasticbeanstalk")
    eb.create_application(ApplicationName="env-tags-app", Tags=[{"Key": "app", "Value": "only"}])
    env = launch(eb, "env-tags-app", "env-tags", Tags=[{"Key": "env", "Value": "1"}])
    arn = env["EnvironmentArn"]
    assert tag_map(eb, arn) == {"env": "1"}, "environments don't inherit the application's tags"
    eb.update_tags_for_resource(
        ResourceArn=arn, TagsToAdd=[{"Key": "more", "Value": "2"}], TagsToRemove=["env", "x"]
    )
    assert tag_map(eb, arn) == {"more": "2"}


def test_create_environment_keeps_what_it_was_given():
    eb = client("elasticbeanstalk")
    eb.create_application(ApplicationName="create-app")
    eb.create_application_version(ApplicationName="create-app", VersionLabel="v1")
    env = eb.create_environment(
        ApplicationName="create-app",
        EnvironmentName="create-env",
        SolutionStackName=DOCKER,
        VersionLabel="v1",
        Description="the dev stack",
        Tags=[{"Key": "infra:stack", "Value": "dev"}],
        OptionSettings=[
            option(LAUNCH, "InstanceType", "t3.medium"),
            option(ENV_VARS, "A", "1"),
        ],
    )
    assert env["Status"] == "Launching" and env["Health"] == "Grey", env
    assert env["EnvironmentId"].startswith("e-") and len(env["EnvironmentId"]) == 12, env
    assert env["SolutionStackName"] == DOCKER, env
    assert env["VersionLabel"] == "v1" and env["Description"] == "the dev stack", env
    assert env["CNAME"].endswith(".us-east-1.elasticbeanstalk.com"), env
    assert "PlatformArn" not in env, env

    tags = eb.list_tags_for_resource(ResourceArn=env["EnvironmentArn"])["ResourceTags"]
    assert tags == [{"Key": "infra:stack", "Value": "dev"}], tags

    settings = eb.describe_configuration_settings(
        ApplicationName="create-app", EnvironmentName="create-env"
    )["ConfigurationSettings"]
    assert [s["DeploymentStatus"] for s in settings] == ["deployed"], settings
    assert settings[0]["SolutionStackName"] == DOCKER, settings
    assert options(settings[0]["OptionSettings"]) == {
        (LAUNCH, "InstanceType"): "t3.medium",
        (ENV_VARS, "A"): "1",
    }, settings

    # Names are unique in the region, not only in the application.
    eb.create_application(ApplicationName="create-other")
    code, _ = error_of(
        eb.create_environment,
        ApplicationName="create-other",
        EnvironmentName="create-env",
        SolutionStackName=DOCKER,
    )
    assert code == "InvalidParameterValue", code
    code, _ = error_of(
        eb.create_environment,
        ApplicationName="nope",
        EnvironmentName="nope-env",
        SolutionStackName=DOCKER,
    )
    assert code == "InvalidParameterValue", code


def test_environment_lifecycle_counts_polls():
    eb = client("elasticbeanstalk")
    eb.create_application(ApplicationName="life-app")
    eb.create_application_version(ApplicationName="life-app", VersionLabel="v1")
    for name in ("life-env", "life-other"):
        eb.create_environment(
            ApplicationName="life-app", EnvironmentName=name, SolutionStackName=DOCKER
        )

    for poll in range(3):
        (env,) = describe(eb, "life-env")
        assert (env["Status"], env["Health"]) == ("Launching", "Grey"), (poll, env)
        code, message = error_of(eb.update_environment, EnvironmentName="life-env", Description="x")
        assert code == "InvalidParameterValue", code
        assert message == (
            "Environment named life-env is in an invalid state for this operation. Must be Ready."
        ), message
        code, _ = error_of(eb.terminate_environment, EnvironmentName="life-env")
        assert code == "InvalidParameterValue", code
    (env,) = describe(eb, "life-env")
    assert (env["Status"], env["Health"]) == ("Ready", "Green"), env
    assert env["AbortableOperationInProgress"] is False, env
    # Polls of one environment do not move another.
    assert status(eb, "life-other") == "Launching"
    # Filters.
    by_id = eb.describe_environments(EnvironmentIds=[env["EnvironmentId"]])["Environments"]
    assert [e["EnvironmentName"] for e in by_id] == ["life-env"], by_id
    by_app = eb.describe_environments(ApplicationName="life-app")["Environments"]
    assert sorted(e["EnvironmentName"] for e in by_app) == ["life-env", "life-other"], by_app

    updated = eb.update_environment(EnvironmentName="life-env", VersionLabel="v1")
    assert updated["Status"] == "Updating" and updated["VersionLabel"] == "v1", updated
    for _ in range(3):
        (env,) = describe(eb, "life-env")
        assert env["Status"] == "Updating" and env["AbortableOperationInProgress"] is True, env
    assert status(eb, "life-env") == "Ready"


def test_update_environment():
    eb = client("elasticbeanstalk")
    eb.create_application(ApplicationName="update-app")
    eb.create_application_version(ApplicationName="update-app", VersionLabel="v1")
    eb.create_application_version(ApplicationName="update-app", VersionLabel="v2")
    launch(
        eb,
        "update-app",
        "update-env",
        VersionLabel="v1",
        OptionSettings=[option(ENV_VARS, "A", "1"), option(ENV_VARS, "B", "2")],
    )
    code, _ = error_of(
        eb.update_environment,
        EnvironmentName="update-env",
        VersionLabel="v2",
        OptionSettings=[option("aws:ec2:instances", "InstanceTypes", "t3.small")],
    )
    assert code == "InvalidParameterCombination", code
    code, _ = error_of(eb.update_environment, EnvironmentName="update-env", VersionLabel="v9")
    assert code == "InvalidParameterValue", code
    code, message = error_of(eb.update_environment, EnvironmentName="nope-env", Description="x")
    assert code == "InvalidParameterValue" and "nope-env" in message, (code, message)
    code, _ = error_of(eb.update_environment, Description="x")
    assert code == "MissingRequiredParameter", code

    updated = eb.update_environment(
        EnvironmentName="update-env",
        Description="new description",
        OptionSettings=[option(ENV_VARS, "A", "10"), option(LAUNCH, "InstanceType", "t3.medium")],
        OptionsToRemove=[option(ENV_VARS, "B")],
    )
    assert updated["Status"] == "Updating" and updated["Description"] == "new description", updated
    new = {(ENV_VARS, "A"): "10", (LAUNCH, "InstanceType"): "t3.medium"}
    # While it deploys: the deployed configuration and the pending draft.
    settings = eb.describe_configuration_settings(
        ApplicationName="update-app", EnvironmentName="update-env"
    )["ConfigurationSettings"]
    by_status = {s["DeploymentStatus"]: options(s["OptionSettings"]) for s in settings}
    # The deployed SecurityGroups lists the group Elastic Beanstalk made, by id.
    eb_group = by_status["deployed"].pop((LAUNCH, "SecurityGroups"))
    assert eb_group.startswith("sg-"), settings
    assert by_status == {
        "deployed": {(ENV_VARS, "A"): "1", (ENV_VARS, "B"): "2"},
        "pending": new,
    }, settings
    for _ in range(3):
        assert status(eb, "update-env") == "Updating"
    assert status(eb, "update-env") == "Ready"
    settings = eb.describe_configuration_settings(
        ApplicationName="update-app", EnvironmentName="update-env"
    )["ConfigurationSettings"]
    assert [(s["DeploymentStatus"], options(s["OptionSettings"])) for s in settings] == [
        ("deployed", {**new, (LAUNCH, "SecurityGroups"): eb_group})
    ], settings
    assert settings[0]["Description"] == "new description", settings

    eb.update_environment(EnvironmentName="update-env", VersionLabel="v2")
    (env,) = describe(eb, "update-env")
    assert env["VersionLabel"] == "v2", env

    code, _ = error_of(
        eb.describe_configuration_settings, ApplicationName="update-app", EnvironmentName="nope-env"
    )
    assert code == "InvalidParameterValue", code
    code, _ = error_of(eb.describe_configuration_settings, ApplicationName="update-app")
    assert code == "MissingRequiredParameter", code


def test_terminate_environment_and_delete_application():
    eb = client("elasticbeanstalk")
    eb.create_application(ApplicationName="term-app")
    eb.create_application_version(ApplicationName="term-app", VersionLabel="v1")
    launch(eb, "term-app", "term-env", VersionLabel="v1")

    code, _ = error_of(eb.delete_application_version, ApplicationName="term-app", VersionLabel="v1")
    assert code == "InvalidParameterValue", code
    code, _ = error_of(eb.delete_application, ApplicationName="term-app")
    assert code == "InvalidParameterValue", code

    terminated = eb.terminate_environment(EnvironmentName="term-env")
    assert terminated["Status"] == "Terminating", terminated
    code, _ = error_of(eb.delete_application, ApplicationName="term-app")
    assert code == "OperationInProgressFailure", code
    for _ in range(3):
        assert status(eb, "term-env") == "Terminating"
    assert status(eb, "term-env") == "Terminated"
    assert describe(eb, "term-env") == []
    deleted = describe(eb, "term-env", IncludeDeleted=True)
    assert [e["Status"] for e in deleted] == ["Terminated"], deleted
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    assert describe(eb, "term-env", IncludeDeleted=True, IncludedDeletedBackTo=later) == []

    # The name is free again; the version and the application can go.
    launch(eb, "term-app", "term-env")
    eb.delete_application_version(ApplicationName="term-app", VersionLabel="v1")
    eb.delete_application(ApplicationName="term-app", TerminateEnvByForce=True)
    assert eb.describe_applications(ApplicationNames=["term-app"])["Applications"] == []
    assert describe(eb, "term-env") == []
    deleted = describe(eb, "term-env", IncludeDeleted=True)
    assert [(e["ApplicationName"], e["Status"]) for e in deleted] == [("term-app", "Terminated")] * 2


def test_describe_events():
    eb = client("elasticbeanstalk")
    eb.create_application(ApplicationName="events-app")
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    env = launch(eb, "events-app", "events-env")
    eb.update_environment(EnvironmentName="events-env", Description="x")
    for _ in range(4):
        status(eb, "events-env")
    eb.terminate_environment(EnvironmentName="events-env")
    for _ in range(4):
        describe(eb, "events-env")
    launch(eb, "events-app", "events-other")

    events = eb.describe_events(EnvironmentName="events-env")["Events"]
    assert [e["Message"] for e in events] == [
        "terminateEnvironment completed successfully.",
        "terminateEnvironment is starting.",
        "Environment update completed successfully.",
        "Environment update is starting.",
        "Successfully launched environment: events-env",
        "createEnvironment is starting.",
    ], events
    assert all(e["Severity"] == "INFO" and e["ApplicationName"] == "events-app" for e in events)
    dates = [e["EventDate"] for e in events]
    assert dates == sorted(dates, reverse=True), dates
    by_id = eb.describe_events(EnvironmentId=env["EnvironmentId"])["Events"]
    assert by_id == events, by_id
    app_events = eb.describe_events(ApplicationName="events-app")["Events"]
    assert len(app_events) == 8 and app_events[0]["EnvironmentName"] == "events-other", app_events
    assert len(eb.describe_events(ApplicationName="events-app", MaxRecords=3)["Events"]) == 3
    assert len(eb.describe_events(EnvironmentName="events-env", StartTime=before)["Events"]) == 6
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert eb.describe_events(EnvironmentName="events-env", StartTime=future)["Events"] == []
    assert eb.describe_events(EnvironmentName="events-env", EndTime=before)["Events"] == []
    assert eb.describe_events(EnvironmentName="events-env", Severity="WARN")["Events"] == []


ENVIRONMENT = "aws:elasticbeanstalk:environment"
ASG = "aws:autoscaling:asg"
VPC = "aws:ec2:vpc"
SINGLE = option(ENVIRONMENT, "EnvironmentType", "SingleInstance")


def resources(eb, **kwargs) -> dict:
    return eb.describe_environment_resources(**kwargs)["EnvironmentResources"]


def env_instances(eb, ec2, name: str) -> list[dict]:
    """The environment's instances as DescribeEnvironmentResources lists them, described by EC2."""
    ids = [i["Id"] for i in resources(eb, EnvironmentName=name)["Instances"]]
    if not ids:
        return []
    found = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    by_id = {i["InstanceId"]: i for r in found for i in r["Instances"]}
    return [by_id[i] for i in ids]


def instance_state(ec2, instance_id: str) -> str:
    (reservation,) = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservation["Instances"][0]["State"]["Name"]


def eb_group_of(ec2, instance: dict) -> dict | None:
    """The security group Elastic Beanstalk made for the instance's environment, if any."""
    groups = instance["SecurityGroups"]
    ids = [g["GroupId"] for g in groups if "-stack-AWSEBSecurityGroup-" in g["GroupName"]]
    if not ids:
        return None
    (group,) = ec2.describe_security_groups(GroupIds=ids)["SecurityGroups"]
    return group


def group_exists(ec2, group_id: str) -> bool:
    found = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return bool(found["SecurityGroups"])


def default_vpc(ec2) -> str:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return vpcs[0]["VpcId"]


def ec2_tags(resource: dict) -> dict:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def test_environment_runs_its_instance_with_the_declared_launch_settings():
    eb, ec2, iam = client("elasticbeanstalk"), client("ec2"), client("iam")
    run = f"inst-{time.time_ns()}"
    vpc = default_vpc(ec2)
    by_id = ec2.create_security_group(GroupName=f"{run}-a", Description="a", VpcId=vpc)["GroupId"]
    by_name = ec2.create_security_group(GroupName=f"{run}-b", Description="b", VpcId=vpc)["GroupId"]
    profile = iam.create_instance_profile(InstanceProfileName=f"{run}-profile")["InstanceProfile"]
    eb.create_application(ApplicationName="inst-app")
    created = eb.create_environment(
        ApplicationName="inst-app",
        EnvironmentName="inst-env",
        SolutionStackName=DOCKER,
        Tags=[{"Key": "infra:stack", "Value": "dev"}, {"Key": "infra:name", "Value": "app"}],
        OptionSettings=[
            SINGLE,
            option(LAUNCH, "InstanceType", "t3.medium"),
            option(LAUNCH, "SecurityGroups", f"{by_id}, {run}-b"),
            option(LAUNCH, "IamInstanceProfile", f"{run}-profile"),
            option(ASG, "Custom Availability Zones", "us-east-1b"),
        ],
    )
    # While it launches there is no instance yet.
    assert resources(eb, EnvironmentName="inst-env")["Instances"] == []
    for _ in range(3):
        assert status(eb, "inst-env") == "Launching"
    (env,) = describe(eb, "inst-env")
    assert (env["Status"], env["Health"]) == ("Ready", "Green"), env

    described = resources(eb, EnvironmentId=created["EnvironmentId"])
    assert described["EnvironmentName"] == "inst-env", described
    assert len(described["Instances"]) == 1, described
    for key in ("AutoScalingGroups", "LaunchConfigurations", "LaunchTemplates"):
        assert described[key] == [], described
    for key in ("LoadBalancers", "Triggers", "Queues"):
        assert described[key] == [], described
    both = resources(eb, EnvironmentName="inst-env", EnvironmentId=created["EnvironmentId"])
    assert both == described, both

    (instance,) = env_instances(eb, ec2, "inst-env")
    assert instance["State"]["Name"] == "running", instance
    assert instance["InstanceType"] == "t3.medium", instance
    assert instance["Placement"]["AvailabilityZone"] == "us-east-1b", instance
    assert instance["VpcId"] == vpc, instance
    assert instance["IamInstanceProfile"]["Arn"] == profile["Arn"], instance
    assert ec2_tags(instance) == {
        "infra:stack": "dev",
        "infra:name": "app",
        "elasticbeanstalk:environment-name": "inst-env",
        "elasticbeanstalk:environment-id": created["EnvironmentId"],
        "Name": "inst-env",
    }, instance
    eb_group = eb_group_of(ec2, instance)
    assert eb_group is not None, instance
    groups = {g["GroupId"] for g in instance["SecurityGroups"]}
    assert groups == {by_id, by_name, eb_group["GroupId"]}, instance
    prefix = f"awseb-{created['EnvironmentId']}-stack-AWSEBSecurityGroup-"
    assert eb_group["GroupName"].startswith(prefix), eb_group
    assert eb_group["Description"] == "VPC Security Group" and eb_group["VpcId"] == vpc, eb_group
    rules = [(p["IpProtocol"], p["FromPort"], p["ToPort"]) for p in eb_group["IpPermissions"]]
    assert rules == [("tcp", 80, 80)], eb_group
    assert ec2_tags(eb_group) == ec2_tags(instance), eb_group
    # A single-instance environment's EndpointURL is its instance's public IP address.
    assert instance.get("PublicIpAddress"), instance
    assert env["EndpointURL"] == instance["PublicIpAddress"], env

    # The environment's tag changes reach its instance and EB's group; the default tags stay.
    eb.update_tags_for_resource(
        ResourceArn=env["EnvironmentArn"],
        TagsToAdd=[{"Key": "owner", "Value": "ops"}, {"Key": "infra:stack", "Value": "prod"}],
        TagsToRemove=["infra:name"],
    )
    (instance,) = env_instances(eb, ec2, "inst-env")
    assert ec2_tags(instance) == {
        "infra:stack": "prod",
        "owner": "ops",
        "elasticbeanstalk:environment-name": "inst-env",
        "elasticbeanstalk:environment-id": created["EnvironmentId"],
        "Name": "inst-env",
    }, instance
    assert ec2_tags(eb_group_of(ec2, instance)) == ec2_tags(instance)

    code, message = error_of(eb.describe_environment_resources, EnvironmentName="nope-env")
    assert code == "InvalidParameterValue" and "nope-env" in message, (code, message)
    code, _ = error_of(eb.describe_environment_resources, EnvironmentId="e-doesnotexist")
    assert code == "InvalidParameterValue", code
    code, _ = error_of(eb.describe_environment_resources)
    assert code == "MissingRequiredParameter", code


def test_environment_instance_defaults_subnets_and_disabled_eb_group():
    eb, ec2 = client("elasticbeanstalk"), client("ec2")
    run = f"defaults-{time.time_ns()}"
    vpc = default_vpc(ec2)
    own = ec2.create_security_group(GroupName=f"{run}-own", Description="own", VpcId=vpc)["GroupId"]
    subnets = {s["AvailabilityZone"]: s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]}
    eb.create_application(ApplicationName="defaults-app")

    # LoadBalanced (the default), MinSize 2: two instances of the default type, with EB's group.
    launch(eb, "defaults-app", "defaults-lb", OptionSettings=[option(ASG, "MinSize", "2")])
    instances = env_instances(eb, ec2, "defaults-lb")
    assert len(instances) == 2, instances
    assert {i["InstanceType"] for i in instances} == {"t3.micro"}, instances
    groups = {g["GroupId"] for i in instances for g in i["SecurityGroups"]}
    assert len(groups) == 1 and eb_group_of(ec2, instances[0]) is not None, instances
    (env,) = describe(eb, "defaults-lb")
    assert not env.get("EndpointURL"), "a load-balanced environment's URL is its load balancer's"

    # The default group disabled; placement in the first of the declared subnets;
    # aws:ec2:instances InstanceTypes wins over InstanceType.
    launch(
        eb,
        "defaults-app",
        "defaults-own",
        OptionSettings=[
            SINGLE,
            option(LAUNCH, "SecurityGroups", own),
            option(LAUNCH, "DisableDefaultEC2SecurityGroup", "true"),
            option(LAUNCH, "InstanceType", "t3.large"),
            option("aws:ec2:instances", "InstanceTypes", "t3.small,t3.medium"),
            option(VPC, "Subnets", f"{subnets['us-east-1c']},{subnets['us-east-1d']}"),
        ],
    )
    (instance,) = env_instances(eb, ec2, "defaults-own")
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [own], instance
    assert instance["SubnetId"] == subnets["us-east-1c"], instance
    assert instance["Placement"]["AvailabilityZone"] == "us-east-1c", instance
    assert instance["InstanceType"] == "t3.small", instance
    assert "IamInstanceProfile" not in instance, instance


def test_environment_launch_settings_are_validated():
    eb, ec2 = client("elasticbeanstalk"), client("ec2")
    eb.create_application(ApplicationName="invalid-app")
    code, message = error_of(
        eb.create_environment,
        ApplicationName="invalid-app",
        EnvironmentName="invalid-sg",
        SolutionStackName=DOCKER,
        OptionSettings=[option(LAUNCH, "SecurityGroups", "sg-00000000000000000")],
    )
    assert code == "ConfigurationValidationException", code
    assert "The security group 'sg-00000000000000000' does not exist" in message, message
    assert describe(eb, "invalid-sg") == []
    code, _ = error_of(
        eb.create_environment,
        ApplicationName="invalid-app",
        EnvironmentName="invalid-nogroups",
        SolutionStackName=DOCKER,
        OptionSettings=[option(LAUNCH, "DisableDefaultEC2SecurityGroup", "true")],
    )
    assert code == "ConfigurationValidationException", code

    # An unknown subnet fails the launch: Ready, Red, errors in the events, no instance.
    eb.create_environment(
        ApplicationName="invalid-app",
        EnvironmentName="invalid-subnet",
        SolutionStackName=DOCKER,
        OptionSettings=[option(VPC, "Subnets", "subnet-00000000000000000")],
    )
    for _ in range(3):
        status(eb, "invalid-subnet")
    (env,) = describe(eb, "invalid-subnet")
    assert (env["Status"], env["Health"]) == ("Ready", "Red"), env
    assert resources(eb, EnvironmentName="invalid-subnet")["Instances"] == []
    events = eb.describe_events(EnvironmentName="invalid-subnet", Severity="ERROR")["Events"]
    errors = [e["Message"] for e in events]
    assert len(errors) == 2 and "subnet-00000000000000000" in errors[1], errors
    assert errors[0].startswith("Create environment operation is complete, but with errors.")
    # So does an Availability Zone with no default subnet.
    eb.create_environment(
        ApplicationName="invalid-app",
        EnvironmentName="invalid-zone",
        SolutionStackName=DOCKER,
        OptionSettings=[option(ASG, "Custom Availability Zones", "us-east-1z")],
    )
    for _ in range(4):
        status(eb, "invalid-zone")
    (env,) = describe(eb, "invalid-zone")
    assert env["Health"] == "Red", env
    assert resources(eb, EnvironmentName="invalid-zone")["Instances"] == []

    # On a running environment: an unknown group is refused; an unknown subnet fails the
    # update, which leaves the instance and the deployed configuration as they were.
    launch(eb, "invalid-app", "invalid-update", OptionSettings=[SINGLE])
    (before,) = env_instances(eb, ec2, "invalid-update")
    code, _ = error_of(
        eb.update_environment,
        EnvironmentName="invalid-update",
        OptionSettings=[option(LAUNCH, "SecurityGroups", "no-such-group")],
    )
    assert code == "ConfigurationValidationException", code
    assert status(eb, "invalid-update") == "Ready"
    eb.update_environment(
        EnvironmentName="invalid-update",
        OptionSettings=[option(VPC, "Subnets", "subnet-00000000000000000")],
    )
    for _ in range(4):
        status(eb, "invalid-update")
    (env,) = describe(eb, "invalid-update")
    assert (env["Status"], env["Health"]) == ("Ready", "Green"), env
    after = env_instances(eb, ec2, "invalid-update")
    assert [i["InstanceId"] for i in after] == [before["InstanceId"]], after
    settings = eb.describe_configuration_settings(
        ApplicationName="invalid-app", EnvironmentName="invalid-update"
    )["ConfigurationSettings"]
    assert [s["DeploymentStatus"] for s in settings] == ["deployed", "failed"], settings
    assert (VPC, "Subnets") not in options(settings[0]["OptionSettings"]), settings
    events = [e["Message"] for e in eb.describe_events(EnvironmentName="invalid-update")["Events"]]
    assert events[0] == "Failed to deploy configuration.", events
    # A later update that sets no options does not deploy the failed draft.
    eb.update_environment(EnvironmentName="invalid-update", Description="after")
    for _ in range(4):
        status(eb, "invalid-update")
    after = env_instances(eb, ec2, "invalid-update")
    assert [i["InstanceId"] for i in after] == [before["InstanceId"]], after
    events = [e["Message"] for e in eb.describe_events(EnvironmentName="invalid-update")["Events"]]
    assert events[0] == "Environment update completed successfully.", events


def test_environment_update_of_launch_settings_replaces_the_instance():
    eb, ec2 = client("elasticbeanstalk"), client("ec2")
    run = f"replace-{time.time_ns()}"
    vpc = default_vpc(ec2)
    first = ec2.create_security_group(GroupName=f"{run}-1", Description="1", VpcId=vpc)["GroupId"]
    second = ec2.create_security_group(GroupName=f"{run}-2", Description="2", VpcId=vpc)["GroupId"]
    eb.create_application(ApplicationName="replace-app")
    settings = [SINGLE, option(LAUNCH, "SecurityGroups", first)]
    launch(eb, "replace-app", "replace-env", OptionSettings=settings)
    (old,) = env_instances(eb, ec2, "replace-env")
    eb_group = eb_group_of(ec2, old)["GroupId"]
    (env,) = describe(eb, "replace-env")
    endpoint = env["EndpointURL"]

    # Not a launch setting: the instance stays.
    eb.update_environment(
        EnvironmentName="replace-env", OptionSettings=[option(ENV_VARS, "A", "1")]
    )
    for _ in range(4):
        status(eb, "replace-env")
    assert [i["InstanceId"] for i in env_instances(eb, ec2, "replace-env")] == [old["InstanceId"]]

    eb.update_environment(
        EnvironmentName="replace-env", OptionSettings=[option(LAUNCH, "SecurityGroups", second)]
    )
    for _ in range(3):
        assert status(eb, "replace-env") == "Updating"
        during = env_instances(eb, ec2, "replace-env")
        assert [i["InstanceId"] for i in during] == [old["InstanceId"]], during
    assert status(eb, "replace-env") == "Ready"
    (new,) = env_instances(eb, ec2, "replace-env")
    assert new["InstanceId"] != old["InstanceId"], new
    assert {g["GroupId"] for g in new["SecurityGroups"]} == {second, eb_group}, new
    assert instance_state(ec2, old["InstanceId"]) == "terminated"
    (env,) = describe(eb, "replace-env")
    # The Elastic IP stays with the environment.
    assert env["EndpointURL"] == endpoint == new["PublicIpAddress"], (env, new)

    # Disabling EB's group replaces the instance again and deletes the group.
    eb.update_environment(
        EnvironmentName="replace-env",
        OptionSettings=[option(LAUNCH, "DisableDefaultEC2SecurityGroup", "true")],
    )
    for _ in range(4):
        status(eb, "replace-env")
    (last,) = env_instances(eb, ec2, "replace-env")
    assert [g["GroupId"] for g in last["SecurityGroups"]] == [second], last
    assert not group_exists(ec2, eb_group)


def test_environment_termination_releases_its_instances():
    eb, ec2 = client("elasticbeanstalk"), client("ec2")
    eb.create_application(ApplicationName="release-app")
    launch(eb, "release-app", "release-env")
    (instance,) = env_instances(eb, ec2, "release-env")
    eb_group = eb_group_of(ec2, instance)["GroupId"]
    eb.terminate_environment(EnvironmentName="release-env")
    for _ in range(3):
        assert status(eb, "release-env") == "Terminating"
        assert instance_state(ec2, instance["InstanceId"]) == "running"
    assert status(eb, "release-env") == "Terminated"
    assert instance_state(ec2, instance["InstanceId"]) == "terminated"
    assert not group_exists(ec2, eb_group)
    code, _ = error_of(eb.describe_environment_resources, EnvironmentName="release-env")
    assert code == "InvalidParameterValue", code

    # TerminateResources=false leaves the resources running.
    launch(eb, "release-app", "release-keep")
    (kept,) = env_instances(eb, ec2, "release-keep")
    eb.terminate_environment(EnvironmentName="release-keep", TerminateResources=False)
    for _ in range(4):
        status(eb, "release-keep")
    assert instance_state(ec2, kept["InstanceId"]) == "running"
    assert group_exists(ec2, eb_group_of(ec2, kept)["GroupId"])

    # DeleteApplication with TerminateEnvByForce terminates them too.
    launch(eb, "release-app", "release-forced")
    (forced,) = env_instances(eb, ec2, "release-forced")
    forced_group = eb_group_of(ec2, forced)["GroupId"]
    eb.delete_application(ApplicationName="release-app", TerminateEnvByForce=True)
    assert instance_state(ec2, forced["InstanceId"]) == "terminated"
    assert not group_exists(ec2, forced_group)



# CodeBuild


def project_args(name: str, **overrides) -> dict:
    args = {
        "name": name,
        "source": {"type": "CODEPIPELINE", "buildspec": "version: 0.2\nphases: {}\n"},
        "artifacts": {"type": "CODEPIPELINE"},
        "environment": {
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "privilegedMode": True,
            "environmentVariables": [{"name": "STAGE", "value": "dev", "type": "PLAINTEXT"}],
        },
        "serviceRole": ROLE,
        "tags": [{"key": "infra:stack", "value": "dev"}],
    }
    args.update(overrides)
    return args


def test_codebuild_create_project_for_codepipeline_needs_no_location():
    cb = client("codebuild")
    cb.create_project(**project_args("pipeline-build"))
    (project,) = cb.batch_get_projects(names=["pipeline-build"])["projects"]
    assert project["source"] == {"type": "CODEPIPELINE", "buildspec": "version: 0.2\nphases: {}\n"}
    assert project["artifacts"] == {"type": "CODEPIPELINE"}, project
    assert project["environment"]["image"] == "aws/codebuild/standard:7.0", project
    assert project["environment"]["computeType"] == "BUILD_GENERAL1_SMALL", project
    assert project["environment"]["privilegedMode"] is True, project
    assert project["environment"]["environmentVariables"] == [
        {"name": "STAGE", "value": "dev", "type": "PLAINTEXT"}
    ], project
    assert project["serviceRole"] == ROLE, project
    assert project["tags"] == [{"key": "infra:stack", "value": "dev"}], project

    cb.create_project(
        **project_args(
            "nosource-build",
            source={"type": "NO_SOURCE", "buildspec": "x"},
            artifacts={"type": "NO_ARTIFACTS"},
        )
    )
    # An S3 artifact still needs its bucket.
    code, _ = error_of(cb.create_project, **project_args("s3-build", artifacts={"type": "S3"}))
    assert code == "InvalidInputException", code


def test_codebuild_update_project():
    cb = client("codebuild")
    cb.create_project(**project_args("update-build"))
    (before,) = cb.batch_get_projects(names=["update-build"])["projects"]
    time.sleep(0.01)
    environment = {
        "type": "LINUX_CONTAINER",
        "image": "aws/codebuild/standard:8.0",
        "computeType": "BUILD_GENERAL1_MEDIUM",
        "privilegedMode": False,
        "environmentVariables": [{"name": "STAGE", "value": "prod", "type": "PLAINTEXT"}],
    }
    updated = cb.update_project(
        name="update-build",
        description="builds the image",
        environment=environment,
        source={"type": "CODEPIPELINE", "buildspec": "version: 0.2\n"},
        tags=[{"key": "infra:stack", "value": "prod"}],
        badgeEnabled=True,
    )["project"]
    assert updated["environment"] == environment, updated
    assert updated["description"] == "builds the image", updated
    assert updated["badge"]["badgeEnabled"] is True, updated
    assert updated["lastModified"] >= before["created"], updated
    (after,) = cb.batch_get_projects(names=["update-build"])["projects"]
    assert after["environment"] == environment, after
    assert after["source"]["buildspec"] == "version: 0.2\n", after
    assert after["tags"] == [{"key": "infra:stack", "value": "prod"}], after
    assert after["serviceRole"] == ROLE and after["artifacts"] == {"type": "CODEPIPELINE"}, after

    code, _ = error_of(cb.update_project, name="missing-build", description="x")
    assert code == "ResourceNotFoundException", code
    code, _ = error_of(cb.update_project, name="update-build", artifacts={"type": "S3"})
    assert code == "InvalidInputException", code


def test_ec2_resources_carry_exactly_their_own_tags():
    ec2 = client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    run = f"tags-{time.time_ns()}"
    groups = []
    for i in range(3):
        tags = [{"Key": "run", "Value": run}, {"Key": "name", "Value": f"g{i}"}, {"Key": "b-order", "Value": str(i)}]
        spec = [{"ResourceType": "security-group", "Tags": tags}]
        groups.append(
            ec2.create_security_group(GroupName=f"{run}-{i}", Description="d", VpcId=vpc, TagSpecifications=spec)[
                "GroupId"
            ]
        )
    ec2.create_tags(Resources=[groups[1]], Tags=[{"Key": "added", "Value": "later"}])
    volume = ec2.create_volume(
        AvailabilityZone="us-east-1a",
        Size=1,
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "run", "Value": run}]}],
    )["VolumeId"]
    untagged = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]

    def tags_of(resource_id: str) -> list[dict]:
        # DescribeTags walks the region's tags (unpatched): the reference answer.
        found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
        return [{"Key": t["Key"], "Value": t["Value"]} for t in found]

    described = ec2.describe_security_groups(GroupIds=groups)["SecurityGroups"]
    assert len(described) == 3, described
    for group in described:
        assert group.get("Tags", []) == tags_of(group["GroupId"]), group
    assert {"Key": "added", "Value": "later"} in next(g for g in described if g["GroupId"] == groups[1])["Tags"]
    volumes = ec2.describe_volumes(VolumeIds=[volume, untagged])["Volumes"]
    for v in volumes:
        assert v.get("Tags", []) == tags_of(v["VolumeId"]), v
    assert next(v for v in volumes if v["VolumeId"] == untagged).get("Tags", []) == []

    # Tag filters match on each resource's own tags.
    by_name = ec2.describe_security_groups(Filters=[{"Name": "tag:name", "Values": ["g2"]}])["SecurityGroups"]
    assert [g["GroupId"] for g in by_name] == [groups[2]], by_name
    by_run = ec2.describe_volumes(Filters=[{"Name": "tag:run", "Values": [run]}])["Volumes"]
    assert [v["VolumeId"] for v in by_run] == [volume], by_run
    by_key = ec2.describe_security_groups(Filters=[{"Name": "tag-key", "Values": ["added"]}])["SecurityGroups"]
    assert [g["GroupId"] for g in by_key] == [groups[1]], by_key


def test_security_group_filters_match_ids_exactly_and_wildcards_as_globs():
    ec2 = client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    run = f"filters-{time.time_ns()}"
    ids = [
        ec2.create_security_group(GroupName=f"{run}-{i}", Description=f"{run} {i}", VpcId=vpc)["GroupId"]
        for i in range(3)
    ]
    found = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": ids[:2] + ["sg-00000000"]}])
    assert sorted(g["GroupId"] for g in found["SecurityGroups"]) == sorted(ids[:2]), found
    # A prefix of an id is not that id.
    found = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [ids[0][:-1]]}])
    assert found["SecurityGroups"] == [], found
    found = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [ids[2][:-1] + "?"]}])
    assert ids[2] in [g["GroupId"] for g in found["SecurityGroups"]], found
    found = ec2.describe_security_groups(Filters=[{"Name": "description", "Values": [f"{run} *"]}])
    assert sorted(g["GroupId"] for g in found["SecurityGroups"]) == sorted(ids), found


def without_client_token(ec2) -> None:
    """Makes `ec2` send CreateVolume and RunInstances with no ClientToken at all (boto3, like
    every SDK, fills in a fresh one when the caller gives none)."""

    def drop(params, **_):
        params["body"].pop("ClientToken", None)

    ec2.meta.events.register("before-call.ec2.CreateVolume", drop)
    ec2.meta.events.register("before-call.ec2.RunInstances", drop)


def test_ec2_attach_volume_refuses_a_volume_attached_already():
    ec2 = client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instances = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, Placement={"AvailabilityZone": "us-east-1a"})
    first, second = (i["InstanceId"] for i in instances["Instances"])
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=first, Device="/dev/sdf")
    for instance in (first, second):
        try:
            ec2.attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdg")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "VolumeInUse", e.response
        else:
            raise AssertionError(f"an attached volume was attached again, to {instance}")
    attachments = ec2.describe_volumes(VolumeIds=[volume])["Volumes"][0]["Attachments"]
    assert [(a["InstanceId"], a["Device"]) for a in attachments] == [(first, "/dev/sdf")], attachments
    ec2.detach_volume(VolumeId=volume, InstanceId=first, Device="/dev/sdf")
    ec2.attach_volume(VolumeId=volume, InstanceId=second, Device="/dev/sdg")


def test_ec2_create_volume_with_a_client_token_is_idempotent():
    ec2 = client("ec2")
    run = f"token-{time.time_ns()}"
    tags = [{"ResourceType": "volume", "Tags": [{"Key": "run", "Value": run}]}]

    def volume_ids() -> list[str]:
        found = ec2.describe_volumes(Filters=[{"Name": "tag:run", "Values": [run]}])["Volumes"]
        return sorted(v["VolumeId"] for v in found)

    def create(token: str | None = None, zone: str = "us-east-1a", size: int = 1, on=ec2) -> dict:
        args = {"ClientToken": token} if token else {}
        return on.create_volume(AvailabilityZone=zone, Size=size, TagSpecifications=tags, **args)

    # The same token and parameters: one volume, and the same answer.
    first = create(f"{run}-a")
    again = create(f"{run}-a")
    assert again["VolumeId"] == first["VolumeId"], (first, again)
    assert (again["Size"], again["AvailabilityZone"]) == (1, "us-east-1a"), again
    assert volume_ids() == [first["VolumeId"]]

    # The same token with another parameter fails and creates nothing.
    code, message = error_of(
        ec2.create_volume, AvailabilityZone="us-east-1a", Size=2, TagSpecifications=tags, ClientToken=f"{run}-a"
    )
    assert code == "IdempotentParameterMismatch", (code, message)
    assert "inconsistent with arguments used in previous request" in message, message
    code, _ = error_of(ec2.create_volume, AvailabilityZone="us-east-1a", Size=1, ClientToken=f"{run}-a")
    assert code == "IdempotentParameterMismatch", code  # without the tags
    assert volume_ids() == [first["VolumeId"]]

    # A token is case-sensitive, and per Availability Zone (the guide excepts the zone from
    # the parameters compared): another token, or another zone, is another request.
    upper = create(f"{run}-A")
    elsewhere = create(f"{run}-a", zone="us-east-1b")
    assert elsewhere["AvailabilityZone"] == "us-east-1b", elsewhere
    assert len({first["VolumeId"], upper["VolumeId"], elsewhere["VolumeId"]}) == 3
    assert create(f"{run}-a", zone="us-east-1b")["VolumeId"] == elsewhere["VolumeId"]
    assert volume_ids() == sorted([first["VolumeId"], upper["VolumeId"], elsewhere["VolumeId"]])

    # A request that failed is not remembered: its token is still free.
    code, _ = error_of(
        ec2.create_volume, AvailabilityZone="us-east-1a", VolumeType="io1", Size=4, ClientToken=f"{run}-failed"
    )
    assert code == "InvalidParameterDependency", code
    assert create(f"{run}-failed")["VolumeId"] not in [first["VolumeId"], upper["VolumeId"], elsewhere["VolumeId"]]
    assert len(volume_ids()) == 4

    # Without a token, each request creates a volume: with none sent at all, and with the
    # fresh token the SDK fills in.
    bare = client("ec2")
    without_client_token(bare)
    created = [create(on=bare)["VolumeId"], create(on=bare)["VolumeId"], create()["VolumeId"], create()["VolumeId"]]
    assert len(set(created)) == 4, created
    assert len(volume_ids()) == 8

    # The answer is the volume as it is now: attached, then deleted.
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, Placement={"AvailabilityZone": "us-east-1a"})
    instance_id = instance["Instances"][0]["InstanceId"]
    ec2.attach_volume(VolumeId=first["VolumeId"], InstanceId=instance_id, Device="/dev/sdf")
    attached = create(f"{run}-a")
    assert attached["VolumeId"] == first["VolumeId"] and attached["State"] == "in-use", attached
    assert [a["InstanceId"] for a in attached["Attachments"]] == [instance_id], attached
    ec2.detach_volume(VolumeId=first["VolumeId"], InstanceId=instance_id, Device="/dev/sdf")
    ec2.delete_volume(VolumeId=first["VolumeId"])
    deleted = create(f"{run}-a")
    assert deleted["VolumeId"] == first["VolumeId"] and deleted["State"] == "deleted", deleted
    assert first["VolumeId"] not in volume_ids() and len(volume_ids()) == 7
    ec2.terminate_instances(InstanceIds=[instance_id])

    # Concurrent requests with one token make one volume.
    clients = [client("ec2") for _ in range(8)]
    with ThreadPoolExecutor(len(clients)) as pool:
        raced = set(pool.map(lambda c: create(f"{run}-race", size=3, on=c)["VolumeId"], clients))
    assert len(raced) == 1, raced
    assert len(volume_ids()) == 8


def test_ec2_run_instances_with_a_client_token_is_idempotent():
    ec2 = client("ec2")
    run = f"token-{time.time_ns()}"
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "run", "Value": run}]}]

    def launch(token: str | None = None, count: int = 2, on=ec2) -> dict:
        args = {"ClientToken": token} if token else {}
        return on.run_instances(
            ImageId=image, InstanceType="t3.micro", MinCount=count, MaxCount=count, TagSpecifications=tags, **args
        )

    def reservations() -> dict[str, list[str]]:
        found = ec2.describe_instances(Filters=[{"Name": "tag:run", "Values": [run]}])["Reservations"]
        return {r["ReservationId"]: sorted(i["InstanceId"] for i in r["Instances"]) for r in found}

    def ids(reservation: dict) -> list[str]:
        return sorted(i["InstanceId"] for i in reservation["Instances"])

    first = launch(f"{run}-a")
    assert len(first["Instances"]) == 2, first
    assert all(i["ClientToken"] == f"{run}-a" for i in first["Instances"]), first
    again = launch(f"{run}-a")
    assert again["ReservationId"] == first["ReservationId"], (first, again)
    assert ids(again) == ids(first), (first, again)
    assert reservations() == {first["ReservationId"]: ids(first)}

    code, message = error_of(
        ec2.run_instances,
        ImageId=image,
        InstanceType="t3.small",
        MinCount=2,
        MaxCount=2,
        TagSpecifications=tags,
        ClientToken=f"{run}-a",
    )
    assert code == "IdempotentParameterMismatch", (code, message)
    assert reservations() == {first["ReservationId"]: ids(first)}

    # The answer reports the instances as they are now.
    ec2.terminate_instances(InstanceIds=ids(first))
    later = launch(f"{run}-a")
    assert later["ReservationId"] == first["ReservationId"] and ids(later) == ids(first), later
    assert {i["State"]["Name"] for i in later["Instances"]} <= {"shutting-down", "terminated"}, later
    assert reservations() == {first["ReservationId"]: ids(first)}

    # Without a token, each request launches.
    bare = client("ec2")
    without_client_token(bare)
    others = [launch(count=1, on=bare), launch(count=1, on=bare), launch(count=1)]
    assert len({r["ReservationId"] for r in others}) == 3, others
    assert len(reservations()) == 4


def test_s3_conditional_writes_and_deletes_behave_as_aws_documents():
    """Not a patch: the S3 state backend relies on moto honouring conditional
    requests as AWS documents them, so that the backend's tests prove something.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html
    """
    s3 = client("s3")
    bucket = f"conditional-{time.time_ns()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one", IfNoneMatch="*")["ETag"]
    # If-None-Match: * on an existing key: 412 PreconditionFailed, nothing written.
    code, _ = error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"two", IfNoneMatch="*")
    assert code == "PreconditionFailed", code
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    # If-Match with the current ETag writes; with a stale one, 412.
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch=first)["ETag"]
    assert second != first
    code, _ = error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"three", IfMatch=first)
    assert code == "PreconditionFailed", code
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    # DeleteObject If-Match: a stale ETag is refused, the current one deletes.
    code, _ = error_of(s3.delete_object, Bucket=bucket, Key="k", IfMatch=first)
    assert code == "PreconditionFailed", code
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=second)
    code, _ = error_of(s3.get_object, Bucket=bucket, Key="k")
    assert code == "NoSuchKey", code
    # A key whose current version is a delete marker is absent for If-None-Match.
    s3.put_object(Bucket=bucket, Key="k", Body=b"four", IfNoneMatch="*")
    # The versions written are kept.
    versions = s3.list_object_versions(Bucket=bucket, Prefix="k")
    assert len(versions["Versions"]) == 3 and len(versions["DeleteMarkers"]) == 1, versions


def test_a_bool_condition_on_a_key_the_request_lacks_is_not_met_and_if_exists_is():
    """patches/iam_condition_bool.py: S3 checks a bucket policy's Deny statements on object
    writes; moto gives them no request context, so aws:SecureTransport is absent."""
    s3 = client("s3")
    bucket = f"bool-condition-{time.time_ns()}"
    s3.create_bucket(Bucket=bucket)
    arn = f"arn:aws:s3:::{bucket}"

    def deny(operator: str) -> None:
        statement = {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {operator: {"aws:SecureTransport": "false"}},
        }
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))

    # Bool on an absent key: the Deny does not apply.
    deny("Bool")
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    # BoolIfExists on an absent key: it does.
    deny("BoolIfExists")
    try:
        s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    except Exception as e:  # noqa: BLE001 - botocore's ClientError, 403 with no code
        assert "403" in str(e), e
    else:
        raise AssertionError("a Deny under BoolIfExists on an absent key must apply")
    # An Allow whose condition is not met does not apply: it denies nothing.
    allow = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": f"{arn}/*",
        "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}},
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [allow]}))
    s3.put_object(Bucket=bucket, Key="k2", Body=b"three")
    s3.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"


def test_s3_notification_configuration_reports_eventbridge():
    """GetBucketNotificationConfiguration reports EventBridgeConfiguration as set, beside
    the other configurations, under the root NotificationConfiguration.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketNotificationConfiguration.html
    """
    s3 = client("s3")
    bucket = f"notifications-{time.time_ns()}"
    s3.create_bucket(Bucket=bucket)

    def configuration() -> dict:
        got = s3.get_bucket_notification_configuration(Bucket=bucket)
        return {k: v for k, v in got.items() if k != "ResponseMetadata"}

    assert configuration() == {}, configuration()
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert configuration() == {"EventBridgeConfiguration": {}}, configuration()
    queue = {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:q", "Events": ["s3:ObjectCreated:*"]}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}, "QueueConfigurations": [queue]}
    )
    got = configuration()
    assert got["EventBridgeConfiguration"] == {}, got
    assert [q["QueueArn"] for q in got["QueueConfigurations"]] == [queue["QueueArn"]], got
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert configuration() == {}, configuration()


def test_events_test_event_pattern():
    """TestEventPattern answers whether the event matches, refuses an event without the
    mandatory fields and a pattern that is not one.
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_TestEventPattern.html
    """
    events = client("events")
    pattern = json.dumps({"source": ["aws.s3"], "detail": {"object": {"key": ["a.zip"]}}})
    event = {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2021-11-12T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::b"],
        "detail": {"bucket": {"name": "b"}, "object": {"key": "a.zip"}},
    }
    assert events.test_event_pattern(EventPattern=pattern, Event=json.dumps(event))["Result"] is True
    event["detail"]["object"]["key"] = "b.zip"
    assert events.test_event_pattern(EventPattern=pattern, Event=json.dumps(event))["Result"] is False
    code, _ = error_of(events.test_event_pattern, EventPattern='{"source": "aws.s3"}', Event=json.dumps(event))
    assert code == "InvalidEventPatternException", code
    del event["id"]
    code, _ = error_of(events.test_event_pattern, EventPattern=pattern, Event=json.dumps(event))
    assert code == "ValidationException", code


def other_account_client(service: str, account: str):
    """A client acting in `account`: moto's documented multi-account switch, STS AssumeRole
    into a role of that account (the role need not exist)."""
    creds = client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/other", RoleSessionName="other-account")[
        "Credentials"
    ]
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=boto3.session.Config(s3={"addressing_style": "path"}),
    )


def test_s3_expected_bucket_owner_refuses_another_accounts_bucket():
    """patches/s3_expected_bucket_owner.py: a request whose ExpectedBucketOwner is not the
    bucket's owner fails with 403 AccessDenied, for bucket and object operations alike.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html"""
    theirs = other_account_client("s3", "111122223333")
    bucket = f"owner-{time.time_ns()}"
    theirs.create_bucket(Bucket=bucket)
    theirs.put_object(Bucket=bucket, Key="k", Body=b"theirs")
    s3 = client("s3")
    for call, kwargs in [
        (s3.get_object, {"Key": "k"}),
        (s3.put_object, {"Key": "k", "Body": b"mine"}),
        (s3.list_objects_v2, {}),
        (s3.get_bucket_versioning, {}),
    ]:
        code, _ = error_of(call, Bucket=bucket, ExpectedBucketOwner="123456789012", **kwargs)
        assert code == "AccessDenied", (call, code)
    code, _ = error_of(s3.head_bucket, Bucket=bucket, ExpectedBucketOwner="123456789012")
    assert code == "403", code
    # The owner's own account, and a request without the header, are served as before.
    body = theirs.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="111122223333")["Body"].read()
    assert body == b"theirs"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"theirs"


def test_s3_conditional_writes_racing_on_one_etag_let_exactly_one_through():
    """patches/s3_conditional_writes_atomic.py: of many PutObjects If-Match the same ETag,
    sent at once, exactly one succeeds and the others get 412.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html"""
    import concurrent.futures

    s3 = client("s3")
    bucket = f"race-{time.time_ns()}"
    s3.create_bucket(Bucket=bucket)
    etag = s3.put_object(Bucket=bucket, Key="lock", Body=b"holder")["ETag"]

    def take(n: int) -> str:
        try:
            s3.put_object(Bucket=bucket, Key="lock", Body=f"taker {n}".encode(), IfMatch=etag)
        except ClientError as error:
            return error.response["Error"]["Code"]
        return "ok"

    for _ in range(5):
        etag = s3.put_object(Bucket=bucket, Key="lock", Body=f"holder {time.time_ns()}".encode())["ETag"]
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(take, range(8)))
        assert outcomes.count("ok") == 1, outcomes
        assert outcomes.count("PreconditionFailed") == 7, outcomes


# IAM authorization (patches/iam_request_authorization.py): on a server of its own, since
# turning authorization on holds for every later request to that server.


def _authorized_server() -> tuple[subprocess.Popen, str, dict]:
    """An emulator of its own, an administrator and a user `limited` made while it
    authorizes nothing, then authorization on. Returns the server, its endpoint and
    the user's credentials."""
    global ENDPOINT
    server, endpoint = start_server()
    saved, ENDPOINT = ENDPOINT, endpoint
    try:
        iam = client("iam")
        keys = {}
        for user in ("admin", "limited"):
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(admin))
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        iam.create_role(RoleName="build", AssumeRolePolicyDocument=json.dumps(trust))
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"})).read()
    finally:
        ENDPOINT = saved
    return server, endpoint, keys


def _as(endpoint: str, keys: tuple[str, str], service: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
    )


def _policy(endpoint: str, admin: tuple[str, str], statements: list[dict]) -> None:
    document = {"Version": "2012-10-17", "Statement": statements}
    _as(endpoint, admin, "iam").put_user_policy(UserName="limited", PolicyName="p", PolicyDocument=json.dumps(document))


def test_iam_authorization_scopes_by_arn_tags_tag_on_create_and_passed_roles():
    server, endpoint, keys = _authorized_server()
    try:
        admin, limited = keys["admin"], keys["limited"]
        ec2, admin_ec2 = _as(endpoint, limited, "ec2"), _as(endpoint, admin, "ec2")
        volumes = "arn:aws:ec2:us-east-1:123456789012:volume/*"
        create = {
            "Effect": "Allow",
            "Action": "ec2:CreateVolume",
            "Resource": volumes,
            "Condition": {"StringEquals": {"aws:RequestTag/infra:stack": "dev"}},
        }
        tagged = {"ResourceType": "volume", "Tags": [{"Key": "infra:stack", "Value": "dev"}]}
        _policy(endpoint, admin, [create])

        # A create with tags also needs ec2:CreateTags, under ec2:CreateAction.
        code, message = error_of(ec2.create_volume, AvailabilityZone="us-east-1a", Size=1, TagSpecifications=[tagged])
        assert code == "UnauthorizedOperation", code
        assert "ec2:CreateTags on resource: " + volumes in message, message
        tag_on_create = {
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": volumes,
            "Condition": {"StringEquals": {"ec2:CreateAction": "CreateVolume"}},
        }
        _policy(endpoint, admin, [create, tag_on_create])
        mine = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, TagSpecifications=[tagged])["VolumeId"]
        # Without the tag the request-tag condition is not met.
        code, message = error_of(ec2.create_volume, AvailabilityZone="us-east-1a", Size=1)
        assert (code, "ec2:CreateVolume" in message) == ("UnauthorizedOperation", True), (code, message)

        # aws:ResourceTag: the tags the volume has now, not the ones it was made with.
        delete = {
            "Effect": "Allow",
            "Action": "ec2:DeleteVolume",
            "Resource": volumes,
            "Condition": {"StringEquals": {"aws:ResourceTag/infra:stack": "dev"}},
        }
        _policy(endpoint, admin, [delete])
        theirs = admin_ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
        code, message = error_of(ec2.delete_volume, VolumeId=theirs)
        assert code == "UnauthorizedOperation" and f"volume/{theirs}" in message, (code, message)
        admin_ec2.create_tags(Resources=[mine], Tags=[{"Key": "infra:stack", "Value": "prod"}])
        assert error_of(ec2.delete_volume, VolumeId=mine)[0] == "UnauthorizedOperation"
        admin_ec2.create_tags(Resources=[mine], Tags=[{"Key": "infra:stack", "Value": "dev"}])
        ec2.delete_volume(VolumeId=mine)

        # A negated operator on a key the request lacks holds; an explicit Deny wins.
        not_prod = dict(delete, Condition={"StringNotEquals": {"aws:ResourceTag/env": "prod"}})
        deny = {"Effect": "Deny", "Action": "ec2:Delete*", "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/keep": "yes"}}}
        _policy(endpoint, admin, [not_prod, deny])
        kept = admin_ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "keep", "Value": "yes"}]}])["VolumeId"]
        code, message = error_of(ec2.delete_volume, VolumeId=kept)
        assert "explicitly denies" in message, message
        ec2.delete_volume(VolumeId=theirs)

        # Scoped to one project's ARN; passing its role needs iam:PassRole to CodeBuild.
        codebuild = _as(endpoint, limited, "codebuild")
        project = "arn:aws:codebuild:us-east-1:123456789012:project/dev-build"
        role = "arn:aws:iam::123456789012:role/build"
        source = {"type": "NO_SOURCE", "buildspec": "version: 0.2"}
        env = {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"}
        _policy(endpoint, admin, [{"Effect": "Allow", "Action": ["codebuild:CreateProject", "codebuild:BatchGetProjects"], "Resource": project}])
        code, message = error_of(codebuild.create_project, name="dev-build", source=source, artifacts={"type": "NO_ARTIFACTS"}, environment=env, serviceRole=role)
        assert code == "AccessDeniedException" and f"iam:PassRole on resource: {role}" in message, (code, message)
        pass_to = lambda service: {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role, "Condition": {"StringEquals": {"iam:PassedToService": service}}}  # noqa: E731
        _policy(endpoint, admin, [{"Effect": "Allow", "Action": "codebuild:CreateProject", "Resource": project}, pass_to("ec2.amazonaws.com")])
        assert error_of(codebuild.create_project, name="dev-build", source=source, artifacts={"type": "NO_ARTIFACTS"}, environment=env, serviceRole=role)[0] == "AccessDeniedException"
        _policy(endpoint, admin, [{"Effect": "Allow", "Action": ["codebuild:CreateProject", "codebuild:BatchGetProjects"], "Resource": project}, pass_to("codebuild.amazonaws.com")])
        codebuild.create_project(name="dev-build", source=source, artifacts={"type": "NO_ARTIFACTS"}, environment=env, serviceRole=role)
        assert codebuild.batch_get_projects(names=["dev-build"])["projects"][0]["name"] == "dev-build"
        code, message = error_of(codebuild.batch_get_projects, names=["dev-build", "other"])
        assert "project/other" in message, message

        # An action with no resource-level permissions is authorized on `*` only.
        _policy(endpoint, admin, [{"Effect": "Allow", "Action": "ec2:DescribeVolumes", "Resource": volumes}])
        assert error_of(ec2.describe_volumes)[0] == "UnauthorizedOperation"
        _policy(endpoint, admin, [{"Effect": "Allow", "Action": "ec2:describevolumes", "Resource": "*"}])
        ec2.describe_volumes()
    finally:
        server.stdin.close()
        server.wait(timeout=30)


def start_server() -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "server.py"), "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = server.stdout.readline().strip()
    if not line.startswith("INFRA_EMULATOR_PORT="):
        server.kill()
        sys.exit(f"the emulator did not start (its first line: {line!r})")
    return server, f"http://127.0.0.1:{line.split('=', 1)[1]}"


def main() -> int:
    global ENDPOINT
    server = None
    if len(sys.argv) > 1:
        ENDPOINT = sys.argv[1]
    else:
        server, ENDPOINT = start_server()
    tests = [(name, f) for name, f in globals().items() if name.startswith("test_") and callable(f)]
    failed = []
    try:
        for name, test in tests:
            try:
                test()
            except Exception:  # noqa: BLE001 - report every failing test, then fail
                failed.append(name)
                print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
            else:
                print(f"ok   {name}", flush=True)
    finally:
        if server is not None:
            server.stdin.close()
            server.wait(timeout=30)
    print(f"{len(tests) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
