"""Elastic Beanstalk environments: a status lifecycle, UpdateEnvironment, TerminateEnvironment,
DescribeConfigurationSettings and DescribeEvents (moto 5.2.5 has none of these), and fixes
to CreateEnvironment, DescribeEnvironments and DeleteApplication.

Written against moto 5.2.5 (see ../requirements.txt). It adds methods to, or replaces
methods of, moto.elasticbeanstalk.responses.EBResponse, and keeps its extra state as
attributes of moto's own models (moto.elasticbeanstalk.models.Environment, Application and
EBBackend). What moto 5.2.5 does without it: CreateEnvironment drops OptionSettings,
VersionLabel, Description and even SolutionStackName (it reports "None"), gives every
environment the id "" and the status Ready at once; DescribeEnvironments ignores all its
filters; DeleteApplication deletes an application with running environments.

AWS API reference, one page per operation (each method below quotes its page):
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_CreateEnvironment.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeEnvironments.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_UpdateEnvironment.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_TerminateEnvironment.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeConfigurationSettings.html
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
    from moto.elasticbeanstalk.models import Environment
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
        env.health = "Green"
        _record(backend, env, f"Successfully launched environment: {env.environment_name}")
    elif finished == "Updating":
        env.health = "Green"
        if env.infra_draft_options is not None:
            env.infra_options, env.infra_draft_options = env.infra_draft_options, None
        _record(backend, env, "Environment update completed successfully.")
    elif finished == "Terminating":
        _terminated(backend, env)
        _record(backend, env, "terminateEnvironment completed successfully.")


def _terminated(backend, env) -> None:
    """The environment is deleted: its name is free again, and DescribeEnvironments shows it
    only with IncludeDeleted."""
    from moto.core.utils import utcnow

    env.status, env.health, env.infra_then = "Terminated", "Grey", None
    env.abortable_operation_in_progress = False
    env.infra_date_deleted = utcnow()
    env.application.environments.pop(env.environment_name, None)
    _deleted_environments(backend).append(env)


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
        # EndpointURL is a load balancer's URL or an instance's IP: there is neither here.
        env.endpoint_url = None
        env.infra_options = _merge_options(
            [], self._get_param("OptionSettings", []), self._get_param("OptionsToRemove", [])
        )
        env.infra_draft_options = None
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

        if version_label:
            env.version_label = version_label
        if self._get_param("Description") is not None:
            env.description = self._get_param("Description")
        if self._get_param("SolutionStackName"):
            env.solution_stack_name = self._get_param("SolutionStackName")
        if self._get_param("PlatformArn"):
            env.infra_platform_arn = self._get_param("PlatformArn")
        if settings or removals:
            env.infra_draft_options = _merge_options(env.infra_options, settings, removals)
        _start(env, "Updating", "Ready")
        _record(backend, env, "Environment update is starting.")
        return ActionResult(env)


def terminate_environment(self):
    """TerminateEnvironment
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_TerminateEnvironment.html
    "Terminates the specified environment." Returns the environment description; Status:
    "Terminating: Environment is in the shut-down process. Terminated: Environment is not
    running." TerminateResources and ForceTerminate are accepted; there are no AWS
    resources or environment groups here for them to act on.
    """
    from moto.core.responses import ActionResult

    backend = self.elasticbeanstalk_backend
    with _LOCK:
        env = _find_environment(
            backend, self._get_param("EnvironmentId"), self._get_param("EnvironmentName")
        )
        if env.status != "Ready":
            raise _not_ready(env)
        _start(env, "Terminating", "Terminated")
        _record(backend, env, "terminateEnvironment is starting.")
        return ActionResult(env)


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
    defaults AWS adds for every option not set are not reported.
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

        settings = [description("deployed", env.infra_options)]
        if env.infra_draft_options is not None:
            settings.append(description("pending", env.infra_draft_options))
        return ActionResult({"ConfigurationSettings": settings})


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
