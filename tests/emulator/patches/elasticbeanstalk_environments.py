"""Elastic Beanstalk environments: a status lifecycle, EC2 instances, UpdateEnvironment,
TerminateEnvironment, DescribeConfigurationSettings, DescribeEnvironmentResources and
DescribeEvents (moto 5.2.5 has none of these), and fixes to CreateEnvironment,
DescribeEnvironments and DeleteApplication.

Written against moto 5.2.5 (see ../requirements.txt). It adds methods to, or replaces
methods of, moto.elasticbeanstalk.responses.EBResponse, wraps
moto.elasticbeanstalk.models.EBBackend.update_tags_for_resource (as installed by
elasticbeanstalk_applications.py), keeps its extra state as attributes of moto's own models
(moto.elasticbeanstalk.models.Environment, Application and EBBackend), and runs the
environments' instances in moto's EC2 backend (moto.ec2.models.ec2_backends[account][region]:
run_instances, associate_iam_instance_profile, terminate_instances, create_security_group,
authorize_security_group_ingress, delete_security_group, create_tags, delete_tags). What
moto 5.2.5 does without it: CreateEnvironment drops OptionSettings, VersionLabel,
Description and even SolutionStackName (it reports "None"), gives every environment the id
"" and the status Ready at once, and launches nothing; DescribeEnvironments ignores all its
filters; DeleteApplication deletes an application with running environments;
DescribeEnvironmentResources does not exist.

AWS API reference, one page per operation (each method below quotes its page):
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_CreateEnvironment.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeEnvironments.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_UpdateEnvironment.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_TerminateEnvironment.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeConfigurationSettings.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeEnvironmentResources.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeEvents.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DeleteApplication.html

The lifecycle follows EnvironmentDescription.Status
(https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_EnvironmentDescription.html):
"Launching: Environment is in the process of initial deployment. Updating: Environment is
in the process of updating its configuration settings or application version. Ready:
Environment is available to have an action performed on it, such as update or terminate.
Terminating: Environment is in the shut-down process. Terminated: Environment is not
running." and its Health: "Grey: Default health for a new environment. The environment is
not fully launched and health checks have not started or health checks are suspended
during an UpdateEnvironment or RestartEnvironment request." On AWS an operation takes
minutes; here it takes TRANSITION_POLLS DescribeEnvironments calls that return the
environment, so that tests are deterministic: after CreateEnvironment the next 3 polls
report Launching and the 4th Ready (Health Green); likewise Updating then Ready after
UpdateEnvironment, and Terminating then Terminated after TerminateEnvironment. A poll that
completes a termination still reports the environment (as Terminated); after that it is
deleted, and only DescribeEnvironments with IncludeDeleted=true shows it. While an
environment is not Ready, UpdateEnvironment and TerminateEnvironment fail as AWS does:
InvalidParameterValue "Environment named X is in an invalid state for this operation. Must
be Ready.".

Events: CreateEnvironment, UpdateEnvironment and TerminateEnvironment record the events AWS
shows for them ("createEnvironment is starting.", "Successfully launched environment: X",
"Environment update is starting.", "Environment update completed successfully.",
"terminateEnvironment is starting.", "terminateEnvironment completed successfully."),
severity INFO, for DescribeEvents.

Instances. "When you create a web server environment, AWS Elastic Beanstalk creates one or
more Amazon Elastic Compute Cloud (Amazon EC2) virtual machines" and an "Instance security
group - An Amazon EC2 security group configured to allow inbound traffic on port 80"
(developer guide: using-features.managing.ec2.html, customize-containers.html). The options
(https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/command-options-general.html), read
from the environment's OptionSettings:
  aws:elasticbeanstalk:environment EnvironmentType: "Set to SingleInstance to launch one EC2
    instance with no load balancer." (default LoadBalanced, whose Auto Scaling group runs
    aws:autoscaling:asg MinSize instances: "The minimum number of instances that you want in
    your Auto Scaling group.", default 1).
  aws:ec2:instances InstanceTypes: "only the first instance type on the list is used [...]
    If you specify both, the first instance type on the list in the InstanceTypes option is
    used, and InstanceType is ignored."; else aws:autoscaling:launchconfiguration
    InstanceType; else t3.micro (the guide names no fixed default: "Varies by account and
    Region"; t3.micro, a current x86_64 type, x86 being the default architecture, stands in).
  aws:autoscaling:launchconfiguration ImageId: "override the default Amazon Machine Image
    (AMI)"; by default an Amazon Linux AMI of moto's catalogue stands in for the platform's.
  aws:autoscaling:launchconfiguration SecurityGroups: "a single string of comma-separated
    values", ids or names ("Security group names are case sensitive."; a name is looked up
    in the instances' VPC). The instances get these groups plus the group Elastic Beanstalk
    creates, named awseb-<environment id>-stack-AWSEBSecurityGroup-<suffix> (as in the
    guide's event examples), description "VPC Security Group" (that of AWSEBSecurityGroup
    in Elastic Beanstalk's template), in the instances' VPC, with ingress TCP 80 from
    0.0.0.0/0 (on AWS a load-balanced environment's rule admits its load balancer's group;
    there is no load balancer here), tagged like the instances.
  aws:autoscaling:launchconfiguration DisableDefaultEC2SecurityGroup "true": "the default
    EC2 security group that Elastic Beanstalk normally associates to the EC2 instances is
    not created. Therefore, you must provide other security groups with the SecurityGroups
    option." (using-features.managing.ec2.aws-cli.html); an update can turn it on or off.
  aws:autoscaling:launchconfiguration IamInstanceProfile: "Specify the instance profile's
    name or its ARN." (associated with each instance).
  Placement: aws:ec2:vpc Subnets ("The IDs of the Auto Scaling group subnet or subnets")
    if set, else aws:autoscaling:asg Custom Availability Zones ("Define the AZs for your
    instances"; the default subnet of each), else the default VPC's default subnets ("If
    you don't configure settings in this namespace, Elastic Beanstalk launches resources in
    the default VPC"); instance n goes to the n-th of those subnets, in turn, so a single
    instance is in the first. aws:ec2:vpc VPCId is not otherwise used.
  Tags: "Elastic Beanstalk applies environment tags to the environment resource itself, as
    well as to other AWS resources that Elastic Beanstalk creates for the environment" plus
    its default tags elasticbeanstalk:environment-name, elasticbeanstalk:environment-id and
    Name (the environment name) (using-features.tagging.html); "Elastic Beanstalk applies
    the changes to your environment's resources. However, you can't edit the default tags",
    so UpdateTagsForResource on an environment retags its instances and its group, default
    keys excepted.
When: the instances are run when a launch completes (the poll that reports Ready), which is
when AWS has them in service, so that an environment that is Ready has its instances and
one that is Launching has none yet. EndpointURL: "For single-instance environments, the IP
address of the instance." A single instance gets a public address ("Elastic Beanstalk
assigns each Amazon EC2 instance a public Elastic IP address", concepts.concepts.design),
reported as EndpointURL and kept (like an Elastic IP) when the instance is replaced; no
Elastic IP resource is allocated. A load-balanced environment has no EndpointURL here.

Updates: "When you make configuration changes that are described on this page, the launch
configuration also changes. [...] This change requires replacement of all instances."
(using-features.managing.ec2.html). When an update completes that changed EnvironmentType,
InstanceType(s), ImageId, SecurityGroups, IamInstanceProfile,
DisableDefaultEC2SecurityGroup, Custom Availability Zones, VPCId or Subnets, new instances
are run with the new settings, then the old ones are terminated (and Elastic Beanstalk's
group is created or deleted as DisableDefaultEC2SecurityGroup or the VPC requires). A
change of MinSize alone runs or terminates the difference (newest first).

Failures, as AWS reports them. Security groups are checked at CreateEnvironment, and at
UpdateEnvironment when a launch setting changes: an unknown one is HTTP 400
ConfigurationValidationException "Configuration validation exception: Invalid option value:
'sg-x' (Namespace: 'aws:autoscaling:launchconfiguration', OptionName: 'SecurityGroups'): The
security group 'sg-x' does not exist" (the error AWS returns, not in the API reference; it
is reported in SDK and Terraform issues), and DisableDefaultEC2SecurityGroup "true" with no
SecurityGroups is the same exception (its wording is ours). Other launch errors surface when
AWS's CloudFormation stack fails, at the end of the operation: an unknown subnet ("The
subnet ID 'subnet-x' does not exist"), an Availability Zone without a default subnet, a
group deleted meanwhile, an unknown instance profile ("Invalid IamInstanceProfile: x"). A
failed launch ends Ready with Health Red ("Indicates the environment is not responsive"),
no instance and ERROR events ("<step> failed. Reason: <reason>", "Create environment
operation is complete, but with errors. For more information, see troubleshooting
documentation."). A failed update keeps the deployed configuration and the old instances
(the stack rolls back; Health Green while they run), records ERROR events ("... failed.
Reason: ...", "Failed to deploy configuration.") and leaves its draft in
DescribeConfigurationSettings with DeploymentStatus "failed" ("This is a draft
configuration that failed to successfully deploy.").

Termination: when TerminateEnvironment completes (or at once for DeleteApplication with
TerminateEnvByForce), the environment's instances are terminated and then Elastic
Beanstalk's group is deleted ("Deleted security group named: awseb-e-...", eb3-terminate
in the guide), unless TerminateResources was false.

DescribeEnvironmentResources lists the environment's instances that are not terminated;
there is no Auto Scaling group, launch configuration or template, load balancer, trigger or
queue here, so those lists are empty.
"""

from __future__ import annotations

import string
import threading
from datetime import datetime, timezone

from moto.core.exceptions import ServiceException

TRANSITION_POLLS = 3
SEVERITIES = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
IN_PROGRESS = ("Launching", "Updating", "Terminating")

# moto's server is threaded; a poll and an update of the same environment must not interleave.
_LOCK = threading.RLock()


def apply() -> None:
    from moto.elasticbeanstalk.models import EBBackend, Environment
    from moto.elasticbeanstalk.responses import EBResponse

    # moto's Environment.platform_arn is a property that returns "TODO".
    Environment.platform_arn = property(lambda env: getattr(env, "infra_platform_arn", None))
    EBResponse.create_environment = create_environment
    EBResponse.describe_environments = describe_environments
    EBResponse.update_environment = update_environment
    EBResponse.terminate_environment = terminate_environment
    EBResponse.describe_configuration_settings = describe_configuration_settings
    EBResponse.describe_events = describe_events
    EBResponse.delete_application = delete_application
    EBResponse.describe_environment_resources = describe_environment_resources
    # Tag changes reach the environment's instances and security group. Wraps whatever
    # update_tags_for_resource is installed (elasticbeanstalk_applications.py, applied
    # before this patch, replaces moto's); once only, so that apply() stays idempotent.
    if not getattr(EBBackend.update_tags_for_resource, "infra_propagates", False):
        EBBackend.update_tags_for_resource = _propagating_tags(EBBackend.update_tags_for_resource)


# Errors. InvalidParameterValue is moto's own; the others are AWS's common errors
# (https://docs.aws.amazon.com/elasticbeanstalk/latest/api/CommonErrors.html) or, for
# OperationInProgressFailure, DeleteApplication's documented error.


def _invalid(message: str) -> Exception:
    from moto.elasticbeanstalk.exceptions import InvalidParameterValueError

    return InvalidParameterValueError(message)


class ElasticBeanstalkError(ServiceException):
    """An error with the given code. Defined outside moto's packages, so moto's serializer
    looks its code up in the service's own model (moto would look in a "core" service)."""


def _error(code: str, message: str) -> Exception:
    return ElasticBeanstalkError(code, message)


def _not_ready(env) -> Exception:
    return _invalid(
        f"Environment named {env.environment_name} is in an invalid state for this "
        "operation. Must be Ready."
    )


# State kept on moto's backend: the events and the deleted (Terminated) environments.


def _events(backend) -> list[dict]:
    if not hasattr(backend, "infra_events"):
        backend.infra_events = []
    return backend.infra_events


def _deleted_environments(backend) -> list:
    if not hasattr(backend, "infra_deleted_environments"):
        backend.infra_deleted_environments = []
    return backend.infra_deleted_environments


def _record(backend, env, message: str, severity: str = "INFO") -> None:
    from moto.core.utils import utcnow

    _events(backend).append(
        {
            "EventDate": utcnow(),
            "Message": message,
            "ApplicationName": env.application_name,
            "EnvironmentName": env.environment_name,
            "Severity": severity,
            # Not a field of EventDescription: kept for the EnvironmentId filter.
            "infra_environment_id": env.environment_id,
        }
    )


def _live_environments(backend) -> list:
    return [env for app in backend.applications.values() for env in app.environments.values()]


def _find_environment(backend, environment_id, environment_name, application_name=None):
    """The environment named by EnvironmentId and/or EnvironmentName. Per the references of
    UpdateEnvironment and TerminateEnvironment: "You must specify either this or an
    EnvironmentName, or both. If you do not specify either, AWS Elastic Beanstalk returns
    MissingRequiredParameter error." and "If no environment with this ID exists, AWS
    Elastic Beanstalk returns an InvalidParameterValue error.\""""
    if not environment_id and not environment_name:
        raise _error(
            "MissingRequiredParameter", "Either EnvironmentId or EnvironmentName must be specified."
        )
    for env in _live_environments(backend):
        if environment_id and env.environment_id != environment_id:
            continue
        if environment_name and env.environment_name != environment_name:
            continue
        if application_name and env.application_name != application_name:
            continue
        return env
    if environment_id:
        raise _invalid(f"No Environment found for EnvironmentId = '{environment_id}'.")
    raise _invalid(f"No Environment found for EnvironmentName = '{environment_name}'.")


def _option_key(option: dict) -> tuple:
    return (option.get("ResourceName"), option.get("Namespace"), option.get("OptionName"))


def _merge_options(current: list, updates: list, removals: list) -> list:
    merged = {_option_key(option): dict(option) for option in current}
    for option in removals:
        merged.pop(_option_key(option), None)
    for option in updates:
        merged[_option_key(option)] = dict(option)
    return list(merged.values())


# The lifecycle.


def _start(env, status: str, then: str) -> None:
    from moto.core.utils import utcnow

    env.status = status
    env.health = "Grey"
    # EnvironmentDescription.AbortableOperationInProgress: "There is an update in progress."
    env.abortable_operation_in_progress = status == "Updating"
    env.infra_then = then
    env.infra_polls_left = TRANSITION_POLLS
    env.date_updated = utcnow()


def _poll(backend, env) -> None:
    """One DescribeEnvironments poll of `env`: counts down its operation, then completes it."""
    if getattr(env, "infra_then", None) is None:
        return
    if env.infra_polls_left > 0:
        env.infra_polls_left -= 1
        return
    _complete(backend, env)


def _complete(backend, env) -> None:
    from moto.core.utils import utcnow

    finished, env.status, env.infra_then = env.status, env.infra_then, None
    env.abortable_operation_in_progress = False
    env.date_updated = utcnow()
    if finished == "Launching":
        try:
            _deploy(backend, env, env.infra_options)
        except _LaunchFailure as failure:
            _record(backend, env, str(failure), "ERROR")
            _record(
                backend,
                env,
                "Create environment operation is complete, but with errors. For more "
                "information, see troubleshooting documentation.",
                "ERROR",
            )
        else:
            _record(backend, env, f"Successfully launched environment: {env.environment_name}")
        env.health = _health(backend, env)
    elif finished == "Updating":
        # A draft left "failed" by an earlier update is not this update's to deploy.
        if env.infra_draft_options is None or env.infra_draft_status != "pending":
            _record(backend, env, "Environment update completed successfully.")
        else:
            try:
                _deploy(backend, env, env.infra_draft_options)
            except _LaunchFailure as failure:
                # The deployed configuration and its instances stay; the draft is "failed".
                env.infra_draft_status = "failed"
                _record(backend, env, str(failure), "ERROR")
                _record(backend, env, "Failed to deploy configuration.", "ERROR")
            else:
                env.infra_options, env.infra_draft_options = env.infra_draft_options, None
                _record(backend, env, "Environment update completed successfully.")
        env.health = _health(backend, env)
    elif finished == "Terminating":
        _terminated(backend, env)
        _record(backend, env, "terminateEnvironment completed successfully.")


def _terminated(backend, env) -> None:
    """The environment is deleted: its instances are terminated and the security group
    Elastic Beanstalk made for it is deleted, its name is free again, and
    DescribeEnvironments shows it only with IncludeDeleted."""
    from moto.core.utils import utcnow

    if getattr(env, "infra_terminate_resources", True):
        _release(backend, env)
    env.status, env.health, env.infra_then = "Terminated", "Grey", None
    env.abortable_operation_in_progress = False
    env.infra_date_deleted = utcnow()
    env.application.environments.pop(env.environment_name, None)
    _deleted_environments(backend).append(env)


# The environment's EC2 resources: its instances and the security group Elastic Beanstalk
# makes for them (see the module docstring for what each option does and why).

LAUNCH = "aws:autoscaling:launchconfiguration"
ASG = "aws:autoscaling:asg"
VPC = "aws:ec2:vpc"
EC2_INSTANCES = "aws:ec2:instances"
ENVIRONMENT = "aws:elasticbeanstalk:environment"
# The instance type when neither aws:ec2:instances InstanceTypes nor InstanceType is set.
# The developer guide names no fixed value ("Varies by account and Region"); t3.micro, an
# x86_64 type (x86 is the default architecture), stands in for it.
DEFAULT_INSTANCE_TYPE = "t3.micro"
# The description of the AWSEBSecurityGroup resource in Elastic Beanstalk's template.
EB_GROUP_DESCRIPTION = "VPC Security Group"
# Options whose change replaces the instances: they are the launch configuration (or
# launch template) of the Auto Scaling group, or (EnvironmentType, VPCId) the environment's
# architecture. MinSize alone scales the group without replacing anything.
LAUNCH_SETTINGS = (
    (LAUNCH, "InstanceType"),
    (EC2_INSTANCES, "InstanceTypes"),
    (LAUNCH, "ImageId"),
    (LAUNCH, "SecurityGroups"),
    (LAUNCH, "IamInstanceProfile"),
    (LAUNCH, "DisableDefaultEC2SecurityGroup"),
    (ASG, "Custom Availability Zones"),
    (VPC, "VPCId"),
    (VPC, "Subnets"),
    (ENVIRONMENT, "EnvironmentType"),
)
# The tags Elastic Beanstalk applies itself; "You can't edit these default tags."
DEFAULT_TAG_KEYS = ("elasticbeanstalk:environment-name", "elasticbeanstalk:environment-id", "Name")


class _LaunchFailure(Exception):
    """A launch that fails the way AWS's CloudFormation stack would: `step` failed for
    `reason` (the EC2 / Auto Scaling error message)."""

    def __init__(self, step: str, reason: str):
        super().__init__(f"{step} failed. Reason: {reason}")


def _option(options: list, namespace: str, name: str):
    for option in options:
        if option.get("Namespace") == namespace and option.get("OptionName") == name:
            return option.get("Value")
    return None


def _values(value) -> list[str]:
    """A comma-separated option value as a list ("sg-1, sg-2" -> ["sg-1", "sg-2"])."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _single_instance(options: list) -> bool:
    return _option(options, ENVIRONMENT, "EnvironmentType") == "SingleInstance"


def _default_disabled(options: list) -> bool:
    return (_option(options, LAUNCH, "DisableDefaultEC2SecurityGroup") or "").lower() == "true"


def _instance_count(options: list) -> int:
    """SingleInstance: one; LoadBalanced (the default EnvironmentType): aws:autoscaling:asg
    MinSize, default 1."""
    if _single_instance(options):
        return 1
    try:
        return max(1, int(_option(options, ASG, "MinSize") or 1))
    except ValueError:
        return 1


def _launch_settings(options: list) -> tuple:
    return tuple(_option(options, namespace, name) for namespace, name in LAUNCH_SETTINGS)


def _ec2(backend):
    """moto's EC2 backend of the environment's account and region."""
    from moto.ec2.models import ec2_backends

    return ec2_backends[backend.account_id][backend.region_name]


def _group_in_vpc(ec2, reference: str, vpc_id):
    """The security group an option names: an id anywhere, else a name in `vpc_id`."""
    group = ec2.get_security_group_from_id(reference)
    if group is None:
        group = next(
            (g for g in ec2.groups.get(vpc_id, {}).values() if g.name == reference), None
        )
    return group


def _validation_vpc(ec2, options: list):
    """The VPC in which group names are looked up at request time: aws:ec2:vpc VPCId, else
    the VPC of the first of Subnets (when it exists), else the default VPC."""
    if _option(options, VPC, "VPCId"):
        return _option(options, VPC, "VPCId")
    for subnet_id in _values(_option(options, VPC, "Subnets"))[:1]:
        subnet = _subnet_or_none(ec2, subnet_id)
        if subnet is not None:
            return subnet.vpc_id
    default = ec2.get_default_vpc()
    return default.id if default else None


def _subnet_or_none(ec2, subnet_id: str):
    from moto.ec2.exceptions import InvalidSubnetIdError

    try:
        return ec2.get_subnet(subnet_id)
    except InvalidSubnetIdError:
        return None


def _validate_launch_options(backend, options: list) -> None:
    """What Elastic Beanstalk checks when CreateEnvironment or UpdateEnvironment is called
    (the error AWS returns then, HTTP 400, before anything starts):
    ConfigurationValidationException "Configuration validation exception: Invalid option
    value: 'sg-...' (Namespace: 'aws:autoscaling:launchconfiguration', OptionName:
    'SecurityGroups'): The security group 'sg-...' does not exist". And, per the developer
    guide, "Since the DisableDefaultEC2SecurityGroup option is set to true, the default EC2
    security group [...] is not created. Therefore, you must provide other security groups
    with the SecurityGroups option." (the wording of that error is ours)."""
    ec2 = _ec2(backend)
    names = _values(_option(options, LAUNCH, "SecurityGroups"))
    vpc_id = _validation_vpc(ec2, options)
    for name in names:
        if _group_in_vpc(ec2, name, vpc_id) is None:
            raise _error(
                "ConfigurationValidationException",
                f"Configuration validation exception: Invalid option value: '{name}' "
                f"(Namespace: '{LAUNCH}', OptionName: 'SecurityGroups'): The security group "
                f"'{name}' does not exist",
            )
    if _default_disabled(options) and not names:
        raise _error(
            "ConfigurationValidationException",
            "Configuration validation exception: Invalid option value: 'true' (Namespace: "
            f"'{LAUNCH}', OptionName: 'DisableDefaultEC2SecurityGroup'): with the default EC2 "
            "security group disabled, SecurityGroups must name at least one security group.",
        )


def _default_image(ec2):
    """Elastic Beanstalk runs its platform's AMI, which moto does not know; an Amazon Linux
    x86_64 AMI from moto's catalogue stands in for it."""
    images = ec2.describe_images(owners=["amazon"], filters={"name": "amzn2-ami-hvm-*x86_64*"})
    return sorted(images, key=lambda image: image.id)[0].id if images else "ami-00000000"


def _plan(backend, options: list) -> dict:
    """Everything a launch with `options` needs, resolved in moto's EC2 backend, or the
    _LaunchFailure AWS's stack would end with: an unknown subnet, an Availability Zone
    without a default subnet, a security group deleted since it was validated, an unknown
    instance profile."""
    from moto.ec2.utils import filter_iam_instance_profiles

    ec2 = _ec2(backend)
    subnet_ids = _values(_option(options, VPC, "Subnets"))
    if subnet_ids:
        subnets = []
        for subnet_id in subnet_ids:
            subnet = _subnet_or_none(ec2, subnet_id)
            if subnet is None:
                raise _LaunchFailure(
                    "Creating Auto Scaling group", f"The subnet ID '{subnet_id}' does not exist"
                )
            subnets.append(subnet)
    else:
        defaults = ec2.get_default_subnets()
        zones = _values(_option(options, ASG, "Custom Availability Zones")) or sorted(defaults)
        for zone in zones:
            if zone not in defaults:
                raise _LaunchFailure(
                    "Creating Auto Scaling group",
                    f"No default subnet for availability zone: '{zone}'.",
                )
        if not zones:
            raise _LaunchFailure("Creating Auto Scaling group", "No default VPC for this user.")
        subnets = [defaults[zone] for zone in zones]
    vpc_id = subnets[0].vpc_id
    groups = []
    for name in _values(_option(options, LAUNCH, "SecurityGroups")):
        group = _group_in_vpc(ec2, name, vpc_id)
        if group is None:
            raise _LaunchFailure(
                "Creating Auto Scaling group", f"The security group '{name}' does not exist"
            )
        groups.append(group)
    profile = _option(options, LAUNCH, "IamInstanceProfile") or None
    if profile:
        by_arn = profile.startswith("arn:")
        try:
            found = filter_iam_instance_profiles(
                ec2.account_id,
                partition=ec2.partition,
                iam_instance_profile_arn=profile if by_arn else None,
                iam_instance_profile_name=None if by_arn else profile,
            )
        except Exception:  # noqa: BLE001 - moto's IAM raises its NotFound
            found = None
        if found is None:
            raise _LaunchFailure(
                "Creating Auto Scaling launch configuration",
                f"Invalid IamInstanceProfile: {profile}",
            )
    instance_types = _values(_option(options, EC2_INSTANCES, "InstanceTypes"))
    return {
        "instance_type": (
            instance_types[0]
            if instance_types
            else _option(options, LAUNCH, "InstanceType") or DEFAULT_INSTANCE_TYPE
        ),
        "image_id": _option(options, LAUNCH, "ImageId") or _default_image(ec2),
        "subnets": subnets,
        "vpc_id": vpc_id,
        "groups": groups,
        "eb_group": not _default_disabled(options),
        "profile": profile,
        "single": _single_instance(options),
    }


def _resource_tags(env) -> dict:
    """The tags of what Elastic Beanstalk creates for an environment: "Elastic Beanstalk
    applies environment tags to the environment resource itself, as well as to other AWS
    resources that Elastic Beanstalk creates for the environment", plus its default tags
    (elasticbeanstalk:environment-name, elasticbeanstalk:environment-id, Name)."""
    tags = {key: value for key, value in env.tags.items() if key not in DEFAULT_TAG_KEYS}
    tags.update(
        {
            "elasticbeanstalk:environment-name": env.environment_name,
            "elasticbeanstalk:environment-id": env.environment_id,
            "Name": env.environment_name,
        }
    )
    return tags


def _live_instances(ec2, env) -> list:
    """The environment's instances that are not terminated (or terminating), oldest first."""
    live = []
    for instance_id in getattr(env, "infra_instance_ids", []):
        instance = ec2.get_instance_by_id(instance_id)
        if instance is not None and instance.state not in ("terminated", "shutting-down"):
            live.append(instance)
    return live


def _health(backend, env) -> str:
    """Green when the environment has its instances running, Red ("the environment is not
    responsive") when it has none: its launch failed."""
    return "Green" if _live_instances(_ec2(backend), env) else "Red"


def _create_eb_group(backend, env, vpc_id: str):
    """The instance security group Elastic Beanstalk creates (AWSEBSecurityGroup in its
    CloudFormation stack, named awseb-<environment id>-stack-AWSEBSecurityGroup-<suffix>):
    "An Amazon EC2 security group configured to allow inbound traffic on port 80"."""
    from moto.moto_api._internal import mock_random

    ec2 = _ec2(backend)
    alphabet = string.ascii_uppercase + string.digits
    suffix = "".join(mock_random.choice(alphabet) for _ in range(13))
    group = ec2.create_security_group(
        f"awseb-{env.environment_id}-stack-AWSEBSecurityGroup-{suffix}",
        EB_GROUP_DESCRIPTION,
        vpc_id=vpc_id,
        tags=_resource_tags(env),
    )
    ec2.authorize_security_group_ingress(
        group.id, "tcp", 80, 80, [{"CidrIp": "0.0.0.0/0"}], vpc_id=vpc_id
    )
    return group


def _run(backend, env, plan: dict, eb_group, count: int, first_index: int) -> list:
    """Runs `count` instances as the environment's Auto Scaling group would: spread over the
    plan's subnets in turn, with its groups, profile and tags."""
    ec2 = _ec2(backend)
    group_ids = [group.id for group in plan["groups"]]
    if eb_group is not None:
        group_ids.append(eb_group.id)
    tags = _resource_tags(env)
    launched = []
    for index in range(first_index, first_index + count):
        subnet = plan["subnets"][index % len(plan["subnets"])]
        reservation = ec2.run_instances(
            plan["image_id"],
            1,
            None,
            [],
            instance_type=plan["instance_type"],
            is_instance_type_default=False,
            region_name=ec2.region_name,
            subnet_id=subnet.id,
            security_group_ids=list(group_ids),
            # A single-instance environment's instance always has a public (Elastic) IP;
            # in a load-balanced one the subnet decides.
            associate_public_ip=True if plan["single"] else None,
            tags={"instance": tags},
        )
        instance = reservation.instances[0]
        profile = plan["profile"]
        if profile:
            by_arn = profile.startswith("arn:")
            ec2.associate_iam_instance_profile(
                instance_id=instance.id,
                iam_instance_profile_arn=profile if by_arn else None,
                iam_instance_profile_name=None if by_arn else profile,
            )
        if plan["single"]:
            # The Elastic IP stays with the environment when its instance is replaced.
            if getattr(env, "infra_public_ip", None):
                instance.nics[0].public_ip = env.infra_public_ip
            env.infra_public_ip = instance.public_ip
        launched.append(instance)
    return launched


def _deploy(backend, env, options: list) -> None:
    """Brings the environment's instances in line with `options` (at the end of a launch or
    an update): the first launch, or a replacement when a launch setting changed (the old
    instances terminated, then new ones launched), or a scaling when only the count changed.
    Raises _LaunchFailure having changed nothing."""
    ec2 = _ec2(backend)
    settings, count = _launch_settings(options), _instance_count(options)
    current = _live_instances(ec2, env)
    if getattr(env, "infra_launched", None) == settings:
        if len(current) < count:
            plan = _plan(backend, options)
            eb_group = ec2.get_security_group_from_id(env.infra_group_id or "")
            added = _run(backend, env, plan, eb_group, count - len(current), len(current))
            env.infra_instance_ids = [i.id for i in current + added]
        elif len(current) > count:
            surplus = current[count:]
            ec2.terminate_instances([instance.id for instance in surplus])
            env.infra_instance_ids = [i.id for i in current[:count]]
        return

    plan = _plan(backend, options)
    old_group = ec2.get_security_group_from_id(getattr(env, "infra_group_id", None) or "")
    eb_group = None
    if plan["eb_group"]:
        if old_group is not None and old_group.vpc_id == plan["vpc_id"]:
            eb_group = old_group
        else:
            eb_group = _create_eb_group(backend, env, plan["vpc_id"])
    if not plan["single"]:
        env.infra_public_ip = None
    # Rolling updates disabled (the default): "Elastic Beanstalk takes one batch of
    # instances out of service, terminates them, and then launches a batch with the new
    # configuration" (developer guide, Configuration changes): the old instances first.
    if current:
        ec2.terminate_instances([instance.id for instance in current])
    launched = _run(backend, env, plan, eb_group, count, 0)
    if old_group is not None and old_group is not eb_group:
        _delete_group(ec2, old_group.id)
    env.infra_instance_ids = [instance.id for instance in launched]
    env.infra_group_id = eb_group.id if eb_group is not None else None
    env.infra_launched = settings
    # EndpointURL: "For single-instance environments, the IP address of the instance."
    # (a load-balanced one's is its load balancer's URL: there is none here).
    env.endpoint_url = env.infra_public_ip if plan["single"] else None


def _delete_group(ec2, group_id: str) -> None:
    from moto.ec2.exceptions import InvalidSecurityGroupNotFoundError

    try:
        ec2.delete_security_group(group_id=group_id)
    except InvalidSecurityGroupNotFoundError:
        pass  # deleted by someone else already


def _release(backend, env) -> None:
    """At the end of a termination: the instances are terminated, then the security group
    Elastic Beanstalk created is deleted ("Deleted security group named: awseb-...")."""
    ec2 = _ec2(backend)
    live = _live_instances(ec2, env)
    if live:
        ec2.terminate_instances([instance.id for instance in live])
    if getattr(env, "infra_group_id", None):
        _delete_group(ec2, env.infra_group_id)
    env.infra_instance_ids, env.infra_group_id = [], None


def _propagating_tags(update_tags_for_resource):
    """UpdateTagsForResource on an environment, and then the same changes on its instances
    and its security group: "You can add, update, and delete tags in an existing Elastic
    Beanstalk environment. Elastic Beanstalk applies the changes to your environment's
    resources. However, you can't edit the default tags that Elastic Beanstalk applies to
    your environment." (developer guide, Tagging resources in your Elastic Beanstalk
    environments)."""

    def propagating(self, resource_arn: str, tags_to_add: dict, tags_to_remove: list) -> None:
        update_tags_for_resource(self, resource_arn, tags_to_add, tags_to_remove)
        with _LOCK:
            for env in _live_environments(self):
                if env.environment_arn != resource_arn:
                    continue
                ec2 = _ec2(self)
                ids = [instance.id for instance in _live_instances(ec2, env)]
                if getattr(env, "infra_group_id", None):
                    ids.append(env.infra_group_id)
                added = {k: v for k, v in tags_to_add.items() if k not in DEFAULT_TAG_KEYS}
                removed = [k for k in tags_to_remove if k not in DEFAULT_TAG_KEYS]
                if ids and removed:
                    ec2.delete_tags(ids, {key: None for key in removed})
                if ids and added:
                    ec2.create_tags(ids, added)

    propagating.infra_propagates = True
    return propagating


# The operations (methods of moto's EBResponse).


def create_environment(self):
    """CreateEnvironment
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_CreateEnvironment.html
    "Launches an AWS Elastic Beanstalk environment for the specified application using the
    specified configuration." EnvironmentName: "This name must be unique within a region in
    your account. If the specified name already exists in the region, Elastic Beanstalk
    returns an InvalidParameterValue error." CNAMEPrefix: "If not specified, the CNAME is
    generated automatically by appending a random alphanumeric string to the environment
    name." The environment keeps VersionLabel, Description, SolutionStackName, PlatformArn,
    Tier, Tags and OptionSettings (minus OptionsToRemove); it starts Launching.
    """
    from moto.core.responses import ActionResult
    from moto.moto_api._internal import mock_random

    backend = self.elasticbeanstalk_backend
    application_name = self._get_param("ApplicationName")
    name = self._get_param("EnvironmentName")
    with _LOCK:
        app = backend.applications.get(application_name)
        if app is None:
            raise _invalid(f"No Application named '{application_name}' found.")
        if any(env.environment_name == name for env in _live_environments(backend)):
            raise _invalid(f"Environment {name} already exists.")
        options = _merge_options(
            [], self._get_param("OptionSettings", []), self._get_param("OptionsToRemove", [])
        )
        _validate_launch_options(backend, options)
        tags = {tag["Key"]: tag["Value"] for tag in self._get_param("Tags", [])}
        env = backend.create_environment(
            app, environment_name=name, stack_name=self._get_param("SolutionStackName"), tags=tags
        )
        # moto's Environment holds its Application through a weak proxy; a Terminated
        # environment outlives its application (DescribeEnvironments IncludeDeleted).
        env.infra_application = app
        alphabet = string.ascii_lowercase + string.digits
        random = "".join(mock_random.choice(alphabet) for _ in range(10))
        env.environment_id = f"e-{random}"
        env.solution_stack_name = self._get_param("SolutionStackName")
        env.infra_platform_arn = self._get_param("PlatformArn")
        env.version_label = self._get_param("VersionLabel")
        env.description = self._get_param("Description")
        env.health_status = None  # enhanced health only; this environment reports basic health
        if self._get_param("Tier"):
            env.tier = self._get_param("Tier")
        prefix = self._get_param("CNAMEPrefix") or f"{name}.eba-{random[:8]}"
        env.cname = f"{prefix}.{backend.region_name}.elasticbeanstalk.com"
        # EndpointURL is a load balancer's URL or an instance's IP: there is neither yet.
        env.endpoint_url = None
        env.infra_options = options
        env.infra_draft_options, env.infra_draft_status = None, None
        env.infra_instance_ids, env.infra_group_id, env.infra_launched = [], None, None
        _start(env, "Launching", "Ready")
        env.date_created = env.date_updated
        _record(backend, env, "createEnvironment is starting.")
        return ActionResult(env)


def describe_environments(self):
    """DescribeEnvironments
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeEnvironments.html
    "Returns descriptions for existing environments." ApplicationName, VersionLabel,
    EnvironmentIds, EnvironmentNames: "If specified, AWS Elastic Beanstalk restricts the
    returned descriptions to include only those that ..." IncludeDeleted: "true:
    Environments that have been deleted after IncludedDeletedBackTo are displayed. false: Do
    not include deleted environments." (the reference names no default; here it is false).
    IncludedDeletedBackTo: "If specified when IncludeDeleted is set to true, then
    environments deleted after this date are displayed." Not implemented: MaxRecords and
    NextToken (every match is returned in one page).
    Each environment returned counts as one poll of it (see the module docstring).
    """
    from moto.core.responses import ActionResult

    backend = self.elasticbeanstalk_backend
    application_name = self._get_param("ApplicationName")
    version_label = self._get_param("VersionLabel")
    ids = self._get_param("EnvironmentIds") or []
    names = self._get_param("EnvironmentNames") or []

    def selected(env) -> bool:
        return (
            (not application_name or env.application_name == application_name)
            and (not version_label or env.version_label == version_label)
            and (not ids or env.environment_id in ids)
            and (not names or env.environment_name in names)
        )

    with _LOCK:
        environments = [env for env in _live_environments(backend) if selected(env)]
        for env in environments:
            _poll(backend, env)
        if self._get_param("IncludeDeleted"):
            back_to = _utc(self._get_param("IncludedDeletedBackTo"))
            for env in _deleted_environments(backend):
                deleted = _utc(env.infra_date_deleted)
                recent = not back_to or deleted >= back_to
                if selected(env) and env not in environments and recent:
                    environments.append(env)
        return ActionResult({"Environments": environments})


def update_environment(self):
    """UpdateEnvironment
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_UpdateEnvironment.html
    "Updates the environment description, deploys a new application version, updates the
    configuration settings to an entirely new configuration template, or updates select
    configuration option values in the running environment. Attempting to update both the
    release and configuration is not allowed and AWS Elastic Beanstalk returns an
    InvalidParameterCombination error. When updating the configuration settings to a new
    template or individual settings, a draft configuration is created and
    DescribeConfigurationSettings for this environment returns two setting descriptions with
    different DeploymentStatus values."
    VersionLabel: "If no such application version is found, returns an InvalidParameterValue
    error." Tier: "if you change the tier version, name, or type, AWS Elastic Beanstalk
    returns InvalidParameterValue error." Description: "If this parameter is specified, AWS
    Elastic Beanstalk updates the description of this environment." OptionSettings: "If
    specified, AWS Elastic Beanstalk updates the configuration set associated with the
    running environment and sets the specified configuration options to the requested
    value." OptionsToRemove: "A list of custom user-defined configuration options to remove
    from the configuration set for this environment." Returns the environment description.
    Here "configuration" is OptionSettings, OptionsToRemove or TemplateName; configuration
    templates do not exist here, so a TemplateName is an InvalidParameterValue.
    """
    from moto.core.responses import ActionResult

    backend = self.elasticbeanstalk_backend
    version_label = self._get_param("VersionLabel")
    template_name = self._get_param("TemplateName")
    settings = self._get_param("OptionSettings") or []
    removals = self._get_param("OptionsToRemove") or []
    tier = self._get_param("Tier")
    with _LOCK:
        env = _find_environment(
            backend,
            self._get_param("EnvironmentId"),
            self._get_param("EnvironmentName"),
            self._get_param("ApplicationName"),
        )
        if env.status != "Ready":
            raise _not_ready(env)
        if version_label and (settings or removals or template_name):
            raise _error(
                "InvalidParameterCombination",
                "Cannot update the application version and the configuration at the same time.",
            )
        if template_name:
            raise _invalid(
                f"No Configuration Template named '{env.application_name}/{template_name}' found."
            )
        if version_label and version_label not in getattr(env.application, "infra_versions", {}):
            raise _invalid(f"No Application Version named '{version_label}' found.")
        if tier and any(value != env.tier.get(key) for key, value in tier.items()):
            raise _invalid("Cannot change the tier of an environment.")
        draft = None
        if settings or removals:
            draft = _merge_options(env.infra_options, settings, removals)
            if _launch_settings(draft) != _launch_settings(env.infra_options):
                _validate_launch_options(backend, draft)

        if version_label:
            env.version_label = version_label
        if self._get_param("Description") is not None:
            env.description = self._get_param("Description")
        if self._get_param("SolutionStackName"):
            env.solution_stack_name = self._get_param("SolutionStackName")
        if self._get_param("PlatformArn"):
            env.infra_platform_arn = self._get_param("PlatformArn")
        if draft is not None:
            env.infra_draft_options, env.infra_draft_status = draft, "pending"
        _start(env, "Updating", "Ready")
        _record(backend, env, "Environment update is starting.")
        return ActionResult(env)


def terminate_environment(self):
    """TerminateEnvironment
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_TerminateEnvironment.html
    "Terminates the specified environment." Returns the environment description; Status:
    "Terminating: Environment is in the shut-down process. Terminated: Environment is not
    running." When the termination completes, the environment's instances are terminated
    and the security group Elastic Beanstalk created for them is deleted (as the events AWS
    shows then say: "Deleted security group named: awseb-e-...-stack-AWSEBSecurityGroup-..."),
    unless TerminateResources is false: "false: Elastic Beanstalk resource management is
    removed from the environment, but the Amazon Web Services resources continue to
    operate." (default true). ForceTerminate is accepted; there are no environment groups.
    """
    from moto.core.responses import ActionResult

    backend = self.elasticbeanstalk_backend
    with _LOCK:
        env = _find_environment(
            backend, self._get_param("EnvironmentId"), self._get_param("EnvironmentName")
        )
        if env.status != "Ready":
            raise _not_ready(env)
        env.infra_terminate_resources = self._get_param("TerminateResources") is not False
        _start(env, "Terminating", "Terminated")
        _record(backend, env, "terminateEnvironment is starting.")
        return ActionResult(env)


def describe_environment_resources(self):
    """DescribeEnvironmentResources
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeEnvironmentResources.html
    "Returns AWS resources for this environment." EnvironmentId, EnvironmentName: "You must
    specify either this or an EnvironmentName, or both. If you do not specify either, AWS
    Elastic Beanstalk returns MissingRequiredParameter error." Response: EnvironmentResources
    (EnvironmentResourceDescription: "Describes the AWS resources in use by this
    environment. This data is live.") with EnvironmentName, AutoScalingGroups, Instances
    ("The Amazon EC2 instances used by this environment."), LaunchConfigurations,
    LaunchTemplates, LoadBalancers, Triggers and Queues. The reference's one error,
    InsufficientPrivileges, cannot happen here; an unknown environment is
    InvalidParameterValue, as for the other operations that take an environment.
    Instances are the environment's instances that are not terminated (nor shutting down),
    oldest first. No Auto Scaling group, launch configuration or template, load balancer,
    trigger or queue exists here, so those lists are empty (the Cluster member belongs to
    the Cluster tier only).
    """
    from moto.core.responses import ActionResult

    backend = self.elasticbeanstalk_backend
    with _LOCK:
        env = _find_environment(
            backend, self._get_param("EnvironmentId"), self._get_param("EnvironmentName")
        )
        instances = [{"Id": instance.id} for instance in _live_instances(_ec2(backend), env)]
        return ActionResult(
            {
                "EnvironmentResources": {
                    "EnvironmentName": env.environment_name,
                    "AutoScalingGroups": [],
                    "Instances": instances,
                    "LaunchConfigurations": [],
                    "LaunchTemplates": [],
                    "LoadBalancers": [],
                    "Triggers": [],
                    "Queues": [],
                }
            }
        )


def describe_configuration_settings(self):
    """DescribeConfigurationSettings
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeConfigurationSettings.html
    "Returns a description of the settings for the specified configuration set, that is,
    either a configuration template or the configuration set associated with a running
    environment. When describing the settings for the configuration set associated with a
    running environment, it is possible to receive two sets of setting descriptions. One is
    the deployed configuration set, and the other is a draft configuration of an environment
    that is either in the process of deployment or that failed to deploy."
    EnvironmentName: "You must specify either this or a TemplateName, but not both. If you
    specify both, AWS Elastic Beanstalk returns an InvalidParameterCombination error. If you
    do not specify either, AWS Elastic Beanstalk returns MissingRequiredParameter error."
    ConfigurationSettingsDescription.DeploymentStatus: "pending: This is a draft
    configuration that is not deployed to the associated environment but is in the process
    of deploying. deployed: This is the configuration that is currently deployed to the
    associated running environment."
    OptionSettings holds the options set by CreateEnvironment and UpdateEnvironment; the
    defaults AWS adds for every option not set are not reported. One exception: the
    deployed aws:autoscaling:launchconfiguration SecurityGroups lists the instances' groups
    by id ("Lists the Amazon EC2 security group IDs to assign to the EC2 instances in the
    Auto Scaling group", option reference), so the group Elastic Beanstalk made for the
    environment is in it too, after the declared ones.
    """
    from moto.core.responses import ActionResult

    backend = self.elasticbeanstalk_backend
    application_name = self._get_param("ApplicationName")
    environment_name = self._get_param("EnvironmentName")
    template_name = self._get_param("TemplateName")
    if environment_name and template_name:
        raise _error(
            "InvalidParameterCombination",
            "Specify either EnvironmentName or TemplateName, not both.",
        )
    if not environment_name and not template_name:
        raise _error(
            "MissingRequiredParameter", "Either EnvironmentName or TemplateName must be specified."
        )
    with _LOCK:
        app = backend.applications.get(application_name)
        if app is None:
            raise _invalid(f"No Application named '{application_name}' found.")
        if template_name:
            raise _invalid(
                f"No Configuration Template named '{application_name}/{template_name}' found."
            )
        env = app.environments.get(environment_name)
        if env is None:
            raise _invalid(f"No Environment found for EnvironmentName = '{environment_name}'.")

        def description(status: str, options: list) -> dict:
            return {
                "SolutionStackName": env.solution_stack_name,
                "PlatformArn": env.platform_arn,
                "ApplicationName": env.application_name,
                "Description": env.description,
                "EnvironmentName": env.environment_name,
                "DeploymentStatus": status,
                "DateCreated": env.date_created,
                "DateUpdated": env.date_updated,
                "OptionSettings": [dict(option) for option in options],
            }

        settings = [description("deployed", _with_eb_group(env, env.infra_options))]
        if env.infra_draft_options is not None:
            settings.append(description(env.infra_draft_status, env.infra_draft_options))
        return ActionResult({"ConfigurationSettings": settings})


def _with_eb_group(env, options: list) -> list:
    """`options` with the environment's own security group (when it has one) added to
    SecurityGroups."""
    group_id = getattr(env, "infra_group_id", None)
    if not group_id:
        return options
    out, found = [], False
    for option in options:
        option = dict(option)
        key = (option.get("Namespace"), option.get("OptionName"))
        if key == ("aws:autoscaling:launchconfiguration", "SecurityGroups"):
            found = True
            groups = [g.strip() for g in (option.get("Value") or "").split(",") if g.strip()]
            option["Value"] = ",".join(groups + [group_id])
        out.append(option)
    if not found:
        out.append(
            {
                "Namespace": "aws:autoscaling:launchconfiguration",
                "OptionName": "SecurityGroups",
                "Value": group_id,
            }
        )
    return out


def describe_events(self):
    """DescribeEvents
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeEvents.html
    "Returns list of event descriptions matching criteria up to the last 6 weeks."
    ApplicationName, VersionLabel, EnvironmentId, EnvironmentName: "If specified, AWS
    Elastic Beanstalk restricts the returned descriptions to those associated with this
    ..." Severity: "If specified, limits the events returned from this call to include only
    those with the specified severity or higher." StartTime: "If specified, AWS Elastic
    Beanstalk restricts the returned descriptions to those that occur on or after this
    time." EndTime: "... to those that occur up to, but not including, the EndTime."
    MaxRecords: "Specifies the maximum number of events that can be returned, beginning
    with the most recent event." Events are returned newest first. Not implemented:
    TemplateName, PlatformArn and RequestId (no event here has them), NextToken.
    """
    from moto.core.responses import ActionResult

    backend = self.elasticbeanstalk_backend
    filters = {
        "ApplicationName": self._get_param("ApplicationName"),
        "VersionLabel": self._get_param("VersionLabel"),
        "EnvironmentName": self._get_param("EnvironmentName"),
        "infra_environment_id": self._get_param("EnvironmentId"),
    }
    severity = self._get_param("Severity")
    start = _utc(self._get_param("StartTime"))
    end = _utc(self._get_param("EndTime"))
    limit = self._get_param("MaxRecords")
    with _LOCK:
        events = []
        for event in reversed(_events(backend)):
            if any(value and event.get(key) != value for key, value in filters.items()):
                continue
            if severity and SEVERITIES.index(event["Severity"]) < SEVERITIES.index(severity):
                continue
            if start and _utc(event["EventDate"]) < start:
                continue
            if end and _utc(event["EventDate"]) >= end:
                continue
            events.append(event)
        return ActionResult({"Events": events[:limit] if limit else events})


def delete_application(self):
    """DeleteApplication
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DeleteApplication.html
    "Deletes the specified application along with all associated versions and
    configurations. [...] You cannot delete an application that has a running environment."
    TerminateEnvByForce: "When set to true, running environments will be terminated before
    deleting the application." The reference names no error code for an application with
    running environments; its one documented error is OperationInProgressFailure ("Unable
    to perform the specified operation because another operation that effects an element in
    this activity is already in progress."), returned here when an environment is in the
    middle of an operation, and InvalidParameterValue (Elastic Beanstalk's error for invalid
    requests) when one is Ready. With TerminateEnvByForce, the environments are terminated at
    once (on AWS that takes minutes).
    """
    from moto.core.responses import EmptyResult

    backend = self.elasticbeanstalk_backend
    application_name = self._get_param("ApplicationName")
    with _LOCK:
        app = backend.applications.get(application_name)
        running = list(app.environments.values()) if app else []
        if running and not self._get_param("TerminateEnvByForce"):
            if any(env.status in IN_PROGRESS for env in running):
                raise _error(
                    "OperationInProgressFailure",
                    f"Unable to delete application {application_name}: an operation is in "
                    "progress on one of its environments.",
                )
            raise _invalid(
                f"Unable to delete application {application_name} because it has running "
                "environments: " + ", ".join(env.environment_name for env in running) + "."
            )
        for env in running:
            _record(backend, env, "terminateEnvironment is starting.")
            _terminated(backend, env)
            _record(backend, env, "terminateEnvironment completed successfully.")
        backend.delete_application(application_name=application_name)
        return EmptyResult()


def _utc(value):
    """A timestamp (naive values are UTC, as moto's utcnow() makes them) as an aware one."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value
