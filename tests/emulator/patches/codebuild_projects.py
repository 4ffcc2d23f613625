"""CodeBuild projects: UpdateProject (moto 5.2.5 has none), and CreateProject without a
location for CODEPIPELINE sources and artifacts.

Written against moto 5.2.5 (see ../requirements.txt). It adds
moto.codebuild.responses.CodeBuildResponse.update_project and replaces two validators of
moto.codebuild.responses (_validate_required_params_source and
_validate_required_params_artifacts), which moto 5.2.5 uses to reject a project whose
source or artifacts have no `location`, whatever their type. The project is kept in moto's
own model (moto.codebuild.models.CodeBuild.project_metadata), so BatchGetProjects returns
what UpdateProject stored.

AWS API reference:
  https://docs.aws.amazon.com/codebuild/latest/APIReference/API_UpdateProject.html
  https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectSource.html
  https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectArtifacts.html
"""

from __future__ import annotations

import json


def apply() -> None:
    from moto.codebuild import responses

    if not getattr(responses, "infra_patched", False):
        _moto["source"] = responses._validate_required_params_source
        _moto["artifacts"] = responses._validate_required_params_artifacts
        responses._validate_required_params_source = validate_source
        responses._validate_required_params_artifacts = validate_artifacts
        responses.infra_patched = True
    responses.CodeBuildResponse.update_project = update_project


# moto's own validators, for the cases it gets right.
_moto: dict = {}


def validate_source(source: dict) -> None:
    """ProjectSource
    https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectSource.html
    location: "For source code settings that are specified in the source action of a
    pipeline in CodePipeline, location should not be specified. If it is specified,
    CodePipeline ignores it." type: "NO_SOURCE: The project does not have input source
    code." So neither CODEPIPELINE nor NO_SOURCE needs a location; moto checks the rest.
    """
    if source.get("type") in ("CODEPIPELINE", "NO_SOURCE"):
        return
    _moto["source"](source)


def validate_artifacts(artifacts: dict) -> None:
    """ProjectArtifacts
    https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectArtifacts.html
    location: "If type is set to CODEPIPELINE, CodePipeline ignores this value if specified.
    [...] If type is set to NO_ARTIFACTS, this value is ignored if specified, because no
    build output is produced. If type is set to S3, this is the name of the output bucket."
    So only S3 artifacts need a location (moto checks those).
    """
    if artifacts.get("type") in ("CODEPIPELINE", "NO_ARTIFACTS"):
        return
    _moto["artifacts"](artifacts)


def update_project(self):
    """UpdateProject
    https://docs.aws.amazon.com/codebuild/latest/APIReference/API_UpdateProject.html
    "Changes the settings of a build project." name (required): "The name of the build
    project. You cannot change a build project's name." Every other field is optional and,
    when given, replaces the project's value: e.g. source "Information to be changed about
    the build input source code for the build project.", environment "Information to be
    changed about the build environment for the build project.", tags "An updated list of
    tag key and value pairs associated with this build project.", badgeEnabled "Set this to
    true to generate a publicly accessible URL for your project's build badge." Response:
    project, "Information about the build project that was changed." Errors:
    InvalidInputException, ResourceNotFoundException.
    """
    from moto.codebuild import responses
    from moto.codebuild.exceptions import ResourceNotFoundException
    from moto.core.responses import ActionResult
    from moto.core.utils import unix_time
    from moto.utilities.utils import get_partition

    request = json.loads(self.body)
    name = request.get("name")
    project = self.codebuild_backend.codebuild_projects.get(name)
    if project is None:
        raise ResourceNotFoundException(
            f"Project cannot be found: arn:{get_partition(self.region)}:codebuild:"
            f"{self.region}:{self.current_account}:project/{name}"
        )
    # The same checks as CreateProject, for the fields given.
    if "source" in request:
        responses._validate_required_params_source(request["source"])
    if "artifacts" in request:
        responses._validate_required_params_artifacts(request["artifacts"])
    if "environment" in request:
        responses._validate_required_params_environment(request["environment"])
    if "serviceRole" in request:
        responses._validate_required_params_service_role(
            self.current_account, self.region, request["serviceRole"]
        )

    metadata = project.project_metadata
    for field, value in request.items():
        if field == "name":
            continue
        if field == "badgeEnabled":
            metadata["badge"] = {"badgeEnabled": bool(value)}
            continue
        if field == "serviceRole":
            project.service_role = value
        if field == "tags":
            project.tags = value
        metadata[field] = value
    # Project.lastModified: "When the build project's settings were last modified".
    metadata["lastModified"] = unix_time()
    return ActionResult({"project": metadata})
