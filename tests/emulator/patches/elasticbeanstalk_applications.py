"""Elastic Beanstalk applications and their versions: CreateApplicationVersion,
DescribeApplicationVersions, DeleteApplicationVersion and UpdateApplication (moto 5.2.5 has
none of them), CreateApplication with its Description and Tags (moto 5.2.5 drops both),
DescribeApplications with its ApplicationNames filter (moto 5.2.5 ignores it) and the
Versions, Description, DateCreated and DateUpdated fields, and ListTagsForResource and
UpdateTagsForResource for application and application version ARNs (moto 5.2.5 finds only
environments, and answers ResourceNotFoundException for any other ARN).

Written against moto 5.2.5 (see ../requirements.txt). It adds methods to (and replaces
create_application and describe_applications of) moto.elasticbeanstalk.responses.EBResponse,
replaces create_application, list_tags_for_resource and update_tags_for_resource of
moto.elasticbeanstalk.models.EBBackend, and adds a `versions` property to
moto.elasticbeanstalk.models.Application; the versions are kept on moto's Application
objects (attribute `infra_versions`, label -> ApplicationVersion), so DeleteApplication
deletes them with their application, as on AWS ("Deletes the specified application along
with all associated versions and configurations."). An application's tags are its `tags`
attribute (a dict, as moto's Environment has).

AWS API reference:
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_CreateApplication.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_UpdateApplication.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeApplications.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_CreateApplicationVersion.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeApplicationVersions.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DeleteApplicationVersion.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_ListTagsForResource.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_UpdateTagsForResource.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_ApplicationVersionDescription.html
  https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_ApplicationDescription.html
"""

from __future__ import annotations

from moto.core.exceptions import ServiceException


def apply() -> None:
    from moto.elasticbeanstalk.models import Application, EBBackend
    from moto.elasticbeanstalk.responses import EBResponse

    # ApplicationDescription.Versions: "The names of the versions for this application."
    Application.versions = property(lambda app: list(_versions(app)))
    EBBackend.create_application = backend_create_application
    EBBackend.list_tags_for_resource = backend_list_tags_for_resource
    EBBackend.update_tags_for_resource = backend_update_tags_for_resource
    EBResponse.create_application = create_application
    EBResponse.update_application = update_application
    EBResponse.describe_applications = describe_applications
    EBResponse.create_application_version = create_application_version
    EBResponse.describe_application_versions = describe_application_versions
    EBResponse.delete_application_version = delete_application_version


class ElasticBeanstalkError(ServiceException):
    """An error with the given code. Defined outside moto's packages, so moto's serializer
    looks its code up in the service's own model (moto would look in a "core" service)."""


class ApplicationVersion:
    """An ApplicationVersionDescription; moto's serializer reads the snake_case attributes."""

    def __init__(self, app, label: str, description, source_bundle, process: bool, tags: dict):
        from moto.core.utils import utcnow
        from moto.elasticbeanstalk.utils import make_arn

        self.application_name = app.application_name
        self.version_label = label
        self.description = description
        self.source_bundle = source_bundle
        self.application_version_arn = make_arn(
            app.region, app.account_id, "applicationversion", f"{app.application_name}/{label}"
        )
        self.date_created = self.date_updated = utcnow()
        # Status: "Unprocessed – Application version wasn't pre-processed or validated.
        # [...] Processed – Elastic Beanstalk was successfully pre-processed and validated."
        # With Process=true nothing is validated here; the version is Processed at once.
        self.status = "Processed" if process else "Unprocessed"
        self.tags = tags


def _versions(app) -> dict:
    if not hasattr(app, "infra_versions"):
        app.infra_versions = {}
    return app.infra_versions


def _invalid(message: str) -> Exception:
    from moto.elasticbeanstalk.exceptions import InvalidParameterValueError

    return InvalidParameterValueError(message)


def backend_create_application(self, application_name: str, description=None, tags=None):
    """moto's EBBackend.create_application (which keeps only the name), plus the
    application's Description, Tags, DateCreated and DateUpdated. AutoCreateApplication in
    CreateApplicationVersion creates its application through it too. An existing name is
    moto's InvalidParameterValue "Application X already exists.", as on AWS."""
    from moto.core.utils import utcnow
    from moto.elasticbeanstalk.models import Application

    if application_name in self.applications:
        raise _invalid(f"Application {application_name} already exists.")
    app = Application(backend=self, application_name=application_name)
    app.description = description
    app.tags = dict(tags or {})
    app.date_created = app.date_updated = utcnow()
    self.applications[application_name] = app
    return app


def create_application(self):
    """CreateApplication
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_CreateApplication.html
    "Creates an application that has one configuration template named default and no
    application versions." Description: "Your description of the application."
    Tags.member.N: "Specifies the tags applied to the application. Elastic Beanstalk applies
    these tags only to the application. Environments that you create in the application
    don't inherit the tags." Returns "Application: The ApplicationDescription of the
    application." Not implemented: ResourceLifecycleConfig, and the configuration template
    named default (there are no configuration templates here).
    """
    from moto.core.responses import ActionResult

    app = self.elasticbeanstalk_backend.create_application(
        application_name=self._get_param("ApplicationName"),
        description=self._get_param("Description"),
        tags={tag["Key"]: tag["Value"] for tag in self._get_param("Tags", [])},
    )
    return ActionResult({"Application": app})


def update_application(self):
    """UpdateApplication
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_UpdateApplication.html
    "Updates the specified application to have the specified properties. Note: If a
    property (for example, description) is not provided, the value remains unchanged. To
    clear these properties, specify an empty string." ApplicationName: "The name of the
    application to update. If no such application is found, UpdateApplication returns an
    InvalidParameterValue error." Description: "A new description for the application.
    Default: If not specified, AWS Elastic Beanstalk does not update the description."
    Returns "Application: The ApplicationDescription of the application."
    ApplicationDescription.DateUpdated: "The date when the application was last modified."
    """
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    application_name = self._get_param("ApplicationName")
    app = self.elasticbeanstalk_backend.applications.get(application_name)
    if app is None:
        raise _invalid(f"No Application named '{application_name}' found.")
    description = self._get_param("Description")  # "" when given empty
    if description is not None:
        app.description = description or None  # "" clears it
        app.date_updated = utcnow()
    return ActionResult({"Application": app})


def describe_applications(self):
    """DescribeApplications
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeApplications.html
    "Returns the descriptions of existing applications." ApplicationNames: "If specified,
    AWS Elastic Beanstalk restricts the returned descriptions to only include those with the
    specified names." ApplicationDescription.Versions: "The names of the versions for this
    application."
    """
    from moto.core.responses import ActionResult

    names = self._get_param("ApplicationNames") or []
    applications = [
        app
        for app in self.elasticbeanstalk_backend.applications.values()
        if not names or app.application_name in names
    ]
    return ActionResult({"Applications": applications})


def create_application_version(self):
    """CreateApplicationVersion
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_CreateApplicationVersion.html
    "Creates an application version for the specified application. You can create an
    application version from a source bundle in Amazon S3 [...] Specify a source bundle in
    S3 with SourceBundle. Omit both SourceBuildInformation and SourceBundle to use the
    default sample application."
    ApplicationName: "If no application is found with this name, and AutoCreateApplication
    is false, returns an InvalidParameterValue error." AutoCreateApplication: "Set to true
    to create an application with the specified name if it doesn't already exist."
    VersionLabel: "Must be unique per application. If an application version already exists
    with this label for the specified application, AWS Elastic Beanstalk returns an
    InvalidParameterValue error." Returns the ApplicationVersionDescription. Not
    implemented: SourceBuildInformation and BuildConfiguration (CodeCommit and CodeBuild
    sources).
    """
    from moto.core.responses import ActionResult

    backend = self.elasticbeanstalk_backend
    application_name = self._get_param("ApplicationName")
    label = self._get_param("VersionLabel")
    app = backend.applications.get(application_name)
    if app is None:
        if not self._get_param("AutoCreateApplication"):
            raise _invalid(f"No Application named '{application_name}' found.")
        app = backend.create_application(application_name=application_name)
    if label in _versions(app):
        raise _invalid(
            f"Application Version {label} already exists for application {application_name}."
        )
    version = ApplicationVersion(
        app,
        label,
        description=self._get_param("Description"),
        source_bundle=self._get_param("SourceBundle"),
        process=bool(self._get_param("Process")),
        tags={tag["Key"]: tag["Value"] for tag in self._get_param("Tags", [])},
    )
    _versions(app)[label] = version
    return ActionResult({"ApplicationVersion": version})


def describe_application_versions(self):
    """DescribeApplicationVersions
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DescribeApplicationVersions.html
    "Retrieve a list of application versions." ApplicationName: "Specify an application
    name to show only application versions for that application." VersionLabels: "Specify
    a version label to show a specific application version." Not implemented: MaxRecords
    and NextToken (every match is returned in one page).
    """
    from moto.core.responses import ActionResult

    application_name = self._get_param("ApplicationName")
    labels = self._get_param("VersionLabels") or []
    versions = [
        version
        for app in self.elasticbeanstalk_backend.applications.values()
        if not application_name or app.application_name == application_name
        for version in _versions(app).values()
        if not labels or version.version_label in labels
    ]
    return ActionResult({"ApplicationVersions": versions})


def delete_application_version(self):
    """DeleteApplicationVersion
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_DeleteApplicationVersion.html
    "Deletes the specified version from the specified application. You cannot delete an
    application version that is associated with a running environment." (the reference
    names no error code for it; here it is InvalidParameterValue). DeleteSourceBundle: "Set
    to true to delete the source bundle from your storage bucket. Otherwise, the
    application version is deleted only from Elastic Beanstalk and the source bundle remains
    in Amazon S3." Error SourceBundleDeletionFailure: "Unable to delete the Amazon S3 source
    bundle associated with the application version. The application version was deleted
    successfully."
    """
    from moto.core.responses import EmptyResult
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    backend = self.elasticbeanstalk_backend
    application_name = self._get_param("ApplicationName")
    label = self._get_param("VersionLabel")
    app = backend.applications.get(application_name)
    if app is None:
        raise _invalid(f"No Application named '{application_name}' found.")
    version = _versions(app).get(label)
    if version is None:
        raise _invalid(f"No Application Version named '{label}' found.")
    # Environments leave app.environments when they are Terminated: these are running.
    in_use = [
        env.environment_name for env in app.environments.values() if env.version_label == label
    ]
    if in_use:
        raise _invalid(
            f"Unable to delete application version {label} because it is being used by "
            f"environment(s): {', '.join(in_use)}."
        )
    del _versions(app)[label]
    bundle = version.source_bundle
    if self._get_param("DeleteSourceBundle") and bundle:
        s3 = s3_backends[backend.account_id][get_partition(backend.region_name)]
        try:
            s3.get_bucket(bundle["S3Bucket"])
            s3.delete_object(bundle["S3Bucket"], bundle["S3Key"])
        except Exception as error:  # noqa: BLE001 - any S3 failure is this one AWS error
            raise ElasticBeanstalkError(
                "SourceBundleDeletionFailure",
                "Unable to delete the Amazon S3 source bundle associated with the application "
                f"version ({error}). The application version was deleted successfully.",
            ) from error
    return EmptyResult()


def _tagged_resource(backend, arn: str):
    """The application, application version or environment with this ARN (each has a
    `tags` dict), or ResourceNotFoundException: "A resource doesn't exist for the specified
    Amazon Resource Name (ARN)." Environments are moto's own; terminated ones have left
    their application and are not found."""
    from moto.elasticbeanstalk.exceptions import ResourceNotFoundException

    for app in backend.applications.values():
        if app.arn == arn:
            if not hasattr(app, "tags"):
                app.tags = {}
            return app
        for version in _versions(app).values():
            if version.application_version_arn == arn:
                return version
        for env in app.environments.values():
            if env.environment_arn == arn:
                return env
    raise ResourceNotFoundException(f"Resource not found for ARN '{arn}'.")


def backend_list_tags_for_resource(self, resource_arn: str) -> dict:
    """ListTagsForResource (moto's EBResponse.list_tags_for_resource builds the response)
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_ListTagsForResource.html
    "Return the tags applied to an AWS Elastic Beanstalk resource. The response contains a
    list of tag key-value pairs. Elastic Beanstalk supports tagging of all of its
    resources." ResourceArn: "Must be the ARN of an Elastic Beanstalk resource." Error
    ResourceNotFound: "A resource doesn't exist for the specified Amazon Resource Name
    (ARN)." (code ResourceNotFoundException). Here the resources are applications,
    application versions and environments.
    """
    return _tagged_resource(self, resource_arn).tags


def backend_update_tags_for_resource(
    self, resource_arn: str, tags_to_add: dict, tags_to_remove: list
) -> None:
    """UpdateTagsForResource (moto's EBResponse.update_tags_for_resource parses the request)
    https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_UpdateTagsForResource.html
    "Update the list of tags applied to an AWS Elastic Beanstalk resource. Two lists can be
    passed: TagsToAdd for tags to add or update, and TagsToRemove." TagsToAdd: "A list of
    tags to add or update. If a key of an existing tag is added, the tag's value is
    updated." TagsToRemove: "A list of tag keys to remove. If a tag key doesn't exist, it is
    silently ignored." (moto 5.2.5 fails on such a key.) Error ResourceNotFound as for
    ListTagsForResource. Not implemented: TooManyTags (the reference names no limit) and
    the check that at least one of TagsToAdd and TagsToRemove is given.
    """
    tags = _tagged_resource(self, resource_arn).tags
    tags.update(tags_to_add)
    for key in tags_to_remove:
        tags.pop(key, None)
