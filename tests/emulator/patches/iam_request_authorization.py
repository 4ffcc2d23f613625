"""IAM authorization of identity policies as AWS does it, for the calls of the services
infra uses: every resource a request acts on, the condition keys AWS puts in the request
context, the roles a request passes to a service, and the tags it adds on create.

Only active when moto's authorization is (`INITIAL_NO_AUTH_ACTION_COUNT`, or
`POST /moto-api/reset-auth`): the emulator otherwise authorizes nothing, as before.

moto 5.2.5 checks every request other than S3, IAM roles, STS and SQS against the resource
`*` with no request context (`moto.core.responses.BaseResponse.call_action`), so an
identity policy scoped to ARNs, or narrowed by a tag, denies every such call; it knows
only the `StringEquals` operator and takes any other as met; and it never checks
`iam:PassRole`. Here, for the calls listed in `RESOLVERS`:

- The request is authorized on each resource the Service Authorization Reference gives
  the action (https://docs.aws.amazon.com/service-authorization/latest/reference/
  reference_policies_actions-resources-contextkeys.html; the ARN formats are its "Resource
  types" tables, e.g. list_amazonec2.html), and every one must be allowed: RunInstances on
  the instance, its volumes, network interface, subnet, security groups and image;
  AttachVolume on the instance and the volume. An action that supports no resource-level
  permission is authorized on `*`.
- The request context carries `aws:ResourceTag/<key>` for each tag an EC2 resource
  already has, and `aws:RequestTag/<key>` and `aws:TagKeys` for the tags a request adds
  (IAM User Guide, "Controlling access to AWS resources using tags":
  https://docs.aws.amazon.com/IAM/latest/UserGuide/access_tags.html). Resource tags of
  the other services are not supplied: a condition on them is not met (fails closed).
- Tags given at creation (`TagSpecifications`) also need `ec2:CreateTags`, with
  `ec2:CreateAction` the creating action, on each tagged resource ("Grant permission to
  tag Amazon EC2 resources during creation":
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html).
- A role handed to a service needs `iam:PassRole` on the role, with `iam:PassedToService`
  the service ("Grant a user permissions to pass a role to an AWS service":
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html): a build
  project's service role (codebuild.amazonaws.com), a pipeline's role
  (codepipeline.amazonaws.com), an event target's role (events.amazonaws.com), an
  environment's service role (elasticbeanstalk.amazonaws.com), and the role of an
  instance profile given to RunInstances, to an environment, or to
  AddRoleToInstanceProfile ("The caller of this operation must be granted the PassRole
  permission on the IAM role": API_AddRoleToInstanceProfile.html) (ec2.amazonaws.com).
- Policies are evaluated as "Policy evaluation logic" says
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
  an explicit Deny wins, else some Allow must match action, resource and every condition.
  Actions match case-insensitively, resources case-sensitively, both with `*` and `?`
  ("IAM JSON policy elements: Resource"). Conditions follow "Condition operators"
  (reference_policies_elements_condition_operators.html): the String, Arn, Bool and Null
  operators, `...IfExists`, and `ForAnyValue:`/`ForAllValues:` on multivalued keys; all
  operators and all keys of a statement must hold, any one value of a key; a key absent
  from the request context does not match, except for the negated operators, `IfExists`
  and `Null`.
- A denied request answers as the service does: EC2 `UnauthorizedOperation`
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html), the JSON
  services `AccessDeniedException`, IAM and Elastic Beanstalk `AccessDenied`, naming the
  action and the resource, as AWS's message does ("User: ARN is not authorized to perform:
  ACTION on resource: RESOURCE").

What is not modelled: resource-based policies, permission boundaries, SCPs and session
policies (infra's tests use none); the `aws:` global keys other than the tag keys; and S3,
STS and SQS, which keep moto's own checks.
"""

from __future__ import annotations

import re

EC2_ID_TYPES = {
    "sg-": "security-group",
    "vol-": "volume",
    "i-": "instance",
    "vpc-": "vpc",
    "subnet-": "subnet",
    "eni-": "network-interface",
}

JSON_SERVICES = {"codebuild", "codepipeline", "events", "ssm"}


class Check:
    """One authorization: an action on a resource, with the request context."""

    def __init__(self, action: str, resource: str, context: dict | None = None):
        self.action = action
        self.resource = resource
        self.context = context or {}


# ---------------------------------------------------------------------------------------
# Policy evaluation.


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return re.fullmatch(regex, value, flags) is not None


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _compare(base: str, expected: str, actual: str) -> bool:
    if base == "StringEquals":
        return actual == expected
    if base == "StringEqualsIgnoreCase":
        return actual.lower() == expected.lower()
    if base in ("StringLike", "ArnLike", "ArnEquals"):
        # ArnEquals and ArnLike alike take `*` and `?` ("Amazon Resource Name (ARN)
        # condition operators").
        return _glob(expected, actual)
    if base == "Bool":
        return str(actual).lower() == str(expected).lower()
    raise KeyError(base)


NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(operator: str, key: str, expected, context: dict) -> bool:
    qualifier = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    present = key in context
    if operator == "Null":
        return any(str(e).lower() == ("false" if present else "true") for e in _listed(expected))
    if not present:
        if qualifier == "ForAllValues":
            return True
        return if_exists or operator in NEGATED
    actual = [str(v) for v in _listed(context[key])]
    negated = operator in NEGATED
    base = NEGATED.get(operator, operator)
    try:
        matches = [any(_compare(base, str(e), a) for e in _listed(expected)) for a in actual]
    except KeyError:
        return False  # an operator this model does not know never holds
    if negated:
        matches = [not m for m in matches]
    if qualifier == "ForAllValues":
        return all(matches)
    return any(matches)


def _statement_applies(statement: dict, action: str, resource: str, context: dict) -> bool:
    if "Action" in statement:
        if not any(_glob(a, action, ignore_case=True) for a in _listed(statement["Action"])):
            return False
    elif any(_glob(a, action, ignore_case=True) for a in _listed(statement.get("NotAction", []))):
        return False
    if "Resource" in statement:
        if not any(_glob(r, resource) for r in _listed(statement["Resource"])):
            return False
    elif any(_glob(r, resource) for r in _listed(statement.get("NotResource", []))):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


def decide(documents: list[dict], check: Check) -> str:
    """'deny' (explicit), 'allow', or 'implicit' (no statement allows)."""
    allowed = False
    for document in documents:
        for statement in _listed(document.get("Statement", [])):
            if not _statement_applies(statement, check.action, check.resource, check.context):
                continue
            if statement.get("Effect") == "Deny":
                return "deny"
            allowed = True
    return "allow" if allowed else "implicit"


def _documents(policies) -> list[dict]:
    from moto.iam.access_control import IAMPolicy

    return [IAMPolicy(p)._policy_json for p in policies]


# ---------------------------------------------------------------------------------------
# The request: its parameters and the resources it acts on.


class Request:
    def __init__(self, response, service: str, action: str):
        self.response = response
        self.service = service
        self.action = action
        self.account = response.current_account
        self.region = response.region
        from moto.utilities.utils import get_partition

        self.partition = get_partition(self.region)
        self.params = _params(response)

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return ":".join(
            [
                "arn",
                self.partition,
                service,
                self.region if region else "",
                self.account if account else "",
                resource,
            ]
        )

    def check(self, resource: str, context: dict | None = None, action: str | None = None) -> Check:
        return Check(action or f"{self.service}:{self.action}", resource, context)


def _params(response) -> dict:
    if getattr(response, "automated_parameter_parsing", False) and getattr(response, "params", None):
        return dict(response.params)
    from moto.core.responses import PROTOCOL_PARSERS, determine_request_protocol, get_service_model

    request = response.normalized_request
    model = get_service_model(response.boto3_service_name)
    operation = model.operation_model(response._get_action())
    protocol = determine_request_protocol(model, request.content_type)
    parser = PROTOCOL_PARSERS[protocol](operation, map_type=dict)
    return dict(
        parser.parse(
            {
                "method": request.method,
                "values": request.values,
                "headers": request.headers,
                "body": request.data,
                "url_path": request.path,
                "url_params": getattr(response, "uri_match", None) or {},
            }
        )
    )


def _tag_pairs(tags) -> dict:
    """Tags as the request gives them: [{Key, Value}], [{key, value}] or {key: value}."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    out = {}
    for tag in tags or []:
        key = tag.get("Key", tag.get("key"))
        if key is not None:
            out[str(key)] = str(tag.get("Value", tag.get("value", "")))
    return out


def request_tags(tags: dict) -> dict:
    context = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        context["aws:TagKeys"] = sorted(tags)
    return context


def resource_tags(tags: dict) -> dict:
    return {f"aws:ResourceTag/{k}": v for k, v in tags.items()}


def _pass_role(req: Request, role: str | None, service: str) -> list[Check]:
    if not role:
        return []
    arn = role if role.startswith("arn:") else req.arn("iam", f"role/{role}", region=False)
    return [Check("iam:PassRole", arn, {"iam:PassedToService": service})]


def _iam_backend(req: Request):
    from moto.iam.models import iam_backends

    return iam_backends[req.account][req.partition]


def _profile_role(req: Request, profile: str | None) -> str | None:
    """The ARN of the role in an instance profile given by name or ARN."""
    if not profile:
        return None
    name = profile.split("/")[-1]
    try:
        found = _iam_backend(req).get_instance_profile(name)
    except Exception:  # noqa: BLE001 - a missing profile: the service reports it
        return None
    roles = getattr(found, "roles", [])
    return roles[0].arn if roles else None


# EC2 -----------------------------------------------------------------------------------


def _ec2_tags(req: Request, resource_id: str) -> dict:
    from moto.ec2.models import ec2_backends

    return dict(ec2_backends[req.account][req.region].tags.get(resource_id, {}))


def _ec2_existing(req: Request, resource_id: str) -> Check:
    kind = next((t for p, t in EC2_ID_TYPES.items() if resource_id.startswith(p)), None)
    if kind is None:
        return req.check("*")
    return req.check(req.arn("ec2", f"{kind}/{resource_id}"), resource_tags(_ec2_tags(req, resource_id)))


def _tag_specs(req: Request) -> dict[str, dict]:
    specs: dict[str, dict] = {}
    for spec in req.params.get("TagSpecifications") or []:
        specs.setdefault(spec.get("ResourceType", ""), {}).update(_tag_pairs(spec.get("Tags")))
    return specs


def _ec2_created(req: Request, kind: str) -> list[Check]:
    """A resource a create makes, with its request tags, and the tag-on-create check."""
    tags = _tag_specs(req).get(kind, {})
    arn = req.arn("ec2", f"{kind}/*")
    checks = [req.check(arn, request_tags(tags))]
    if tags:
        checks.append(
            Check("ec2:CreateTags", arn, {**request_tags(tags), "ec2:CreateAction": req.action})
        )
    return checks


def ec2_describe(req: Request) -> list[Check]:
    return [req.check("*")]


def ec2_by_param(*names: str):
    def resolve(req: Request) -> list[Check]:
        ids: list[str] = []
        for name in names:
            value = req.params.get(name)
            ids += [str(v) for v in _listed(value)] if value else []
        return [_ec2_existing(req, i) for i in ids] or [req.check("*")]

    return resolve


def ec2_create_security_group(req: Request) -> list[Check]:
    vpc = req.params.get("VpcId")
    checks = _ec2_created(req, "security-group")
    if vpc:
        checks.append(_ec2_existing(req, vpc))
    return checks


def ec2_create_volume(req: Request) -> list[Check]:
    return _ec2_created(req, "volume")


def ec2_tags(req: Request) -> list[Check]:
    added = _tag_pairs(req.params.get("Tags"))
    context = request_tags(added) if req.action == "CreateTags" else {
        "aws:TagKeys": sorted(added)
    }
    checks = []
    for resource_id in req.params.get("Resources") or []:
        existing = _ec2_existing(req, str(resource_id))
        existing.context.update(context)
        checks.append(existing)
    return checks or [req.check("*")]


def ec2_run_instances(req: Request) -> list[Check]:
    checks = _ec2_created(req, "instance") + _ec2_created(req, "volume")
    checks.append(req.check(req.arn("ec2", "network-interface/*")))
    subnet = req.params.get("SubnetId")
    checks.append(_ec2_existing(req, subnet) if subnet else req.check(req.arn("ec2", "subnet/*")))
    for group in req.params.get("SecurityGroupIds") or []:
        checks.append(_ec2_existing(req, str(group)))
    if req.params.get("ImageId"):
        checks.append(req.check(req.arn("ec2", f"image/{req.params['ImageId']}", account=False)))
    if req.params.get("KeyName"):
        checks.append(req.check(req.arn("ec2", f"key-pair/{req.params['KeyName']}")))
    profile = req.params.get("IamInstanceProfile") or {}
    checks += _pass_role(req, _profile_role(req, profile.get("Arn") or profile.get("Name")), "ec2.amazonaws.com")
    return checks


# IAM -----------------------------------------------------------------------------------


def iam_role(req: Request) -> list[Check]:
    name = req.params.get("RoleName")
    if not name:
        return [req.check("*")]
    try:
        arn = _iam_backend(req).get_role(name).arn
    except Exception:  # noqa: BLE001 - not there yet: the ARN it will have
        arn = req.arn("iam", f"role/{name}", region=False)
    context = request_tags(_tag_pairs(req.params.get("Tags"))) if req.action in ("CreateRole", "TagRole") else {}
    return [req.check(arn, context)]


def iam_instance_profile(req: Request) -> list[Check]:
    name = req.params.get("InstanceProfileName")
    if not name:
        return [req.check("*")]
    try:
        arn = _iam_backend(req).get_instance_profile(name).arn
    except Exception:  # noqa: BLE001 - not there yet
        arn = req.arn("iam", f"instance-profile/{name}", region=False)
    checks = [req.check(arn)]
    if req.action == "AddRoleToInstanceProfile":
        role = req.params.get("RoleName")
        try:
            role = _iam_backend(req).get_role(role).arn
        except Exception:  # noqa: BLE001
            pass
        checks += _pass_role(req, role, "ec2.amazonaws.com")
    return checks


# CodeBuild, CodePipeline, EventBridge, Parameter Store -----------------------------------


def codebuild_project(req: Request) -> list[Check]:
    names = req.params.get("names") or [req.params.get("name")]
    checks = [
        req.check(
            name if str(name).startswith("arn:") else req.arn("codebuild", f"project/{name}"),
            request_tags(_tag_pairs(req.params.get("tags"))) if req.action == "CreateProject" else {},
        )
        for name in names
        if name
    ]
    if req.action in ("CreateProject", "UpdateProject"):
        checks += _pass_role(req, req.params.get("serviceRole"), "codebuild.amazonaws.com")
    return checks or [req.check("*")]


def codepipeline_pipeline(req: Request) -> list[Check]:
    pipeline = req.params.get("pipeline") or {}
    name = pipeline.get("name") or req.params.get("name")
    arn = req.params.get("resourceArn") or (req.arn("codepipeline", name) if name else "*")
    tags = _tag_pairs(req.params.get("tags"))
    context = request_tags(tags) if req.action in ("CreatePipeline", "TagResource") else {}
    if req.action == "UntagResource":
        context = {"aws:TagKeys": sorted(req.params.get("tagKeys") or [])}
    checks = [req.check(arn, context)]
    if req.action in ("CreatePipeline", "UpdatePipeline"):
        checks += _pass_role(req, pipeline.get("roleArn"), "codepipeline.amazonaws.com")
    return checks


def events_rule(req: Request) -> list[Check]:
    name = req.params.get("Name") or req.params.get("Rule")
    arn = req.params.get("ResourceARN") or (req.arn("events", f"rule/{name}") if name else "*")
    tags = _tag_pairs(req.params.get("Tags"))
    context = request_tags(tags) if req.action in ("PutRule", "TagResource") else {}
    checks = [req.check(arn, context)]
    if req.action == "PutTargets":
        for target in req.params.get("Targets") or []:
            checks += _pass_role(req, target.get("RoleArn"), "events.amazonaws.com")
    return checks


def _ssm_parameter_arn(req: Request, name: str) -> str:
    if name.startswith("arn:"):
        return name
    path = name if name.startswith("/") else f"/{name}"
    # AWS's public parameters (/aws/service/...) belong to no account.
    return req.arn("ssm", f"parameter{path}", account=not path.startswith("/aws/"))


def ssm_parameter(req: Request) -> list[Check]:
    names = req.params.get("Names") or [req.params.get("Name") or req.params.get("ResourceId")]
    context = request_tags(_tag_pairs(req.params.get("Tags"))) if req.action in ("PutParameter", "AddTagsToResource") else {}
    return [req.check(_ssm_parameter_arn(req, str(n)), context) for n in names if n] or [req.check("*")]


# Elastic Beanstalk ---------------------------------------------------------------------


def _eb_backend(req: Request):
    from moto.elasticbeanstalk.models import eb_backends

    return eb_backends[req.account][req.region]


def _eb_environment(req: Request, name: str | None, env_id: str | None) -> str | None:
    backend = _eb_backend(req)
    # Live environments, and the terminated ones (still described for an hour) that
    # patches/elasticbeanstalk_environments.py keeps.
    live = [env for app in backend.applications.values() for env in app.environments.values()]
    for env in live + list(getattr(backend, "infra_deleted_environments", [])):
        if env.environment_name == name or (env_id and env.environment_id == env_id):
            return req.arn("elasticbeanstalk", f"environment/{env.application.application_name}/{env.environment_name}")
    application = req.params.get("ApplicationName")
    if name and application:
        return req.arn("elasticbeanstalk", f"environment/{application}/{name}")
    return None


def eb_request(req: Request) -> list[Check]:
    """Per the reference's Elastic Beanstalk page: CreateEnvironment and UpdateEnvironment
    act on the environment only, the version, template, solution stack and platform they
    use being condition keys (`elasticbeanstalk:FromApplicationVersion`, ...); the
    application is `elasticbeanstalk:InApplication` wherever it is known."""
    p = req.params
    app = p.get("ApplicationName")
    eb = lambda resource, account=True: req.arn("elasticbeanstalk", resource, account=account)  # noqa: E731
    context: dict = {}
    environment = None
    if p.get("EnvironmentName") or p.get("EnvironmentId"):
        environment = _eb_environment(req, p.get("EnvironmentName"), p.get("EnvironmentId")) or "*"
        if environment != "*":
            app = app or environment.split("/")[-2]
    if app:
        context["elasticbeanstalk:InApplication"] = eb(f"application/{app}")
    uses = {
        "elasticbeanstalk:FromApplicationVersion": p.get("VersionLabel") and eb(f"applicationversion/{app}/{p['VersionLabel']}"),
        "elasticbeanstalk:FromConfigurationTemplate": p.get("TemplateName") and eb(f"configurationtemplate/{app}/{p['TemplateName']}"),
        "elasticbeanstalk:FromSolutionStack": p.get("SolutionStackName") and eb(f"solutionstack/{p['SolutionStackName']}", account=False),
        "elasticbeanstalk:FromPlatform": p.get("PlatformArn"),
    }
    resources: list[str] = []
    if req.action in ("CreateEnvironment", "UpdateEnvironment"):
        resources = [environment or "*"]
        context.update({k: v for k, v in uses.items() if v})
    else:
        resources += [eb(f"application/{name}") for name in p.get("ApplicationNames") or []]
        resources += [environment] if environment else []
        resources += [_eb_environment(req, name, None) or "*" for name in p.get("EnvironmentNames") or []]
        resources += [_eb_environment(req, None, i) or "*" for i in p.get("EnvironmentIds") or []]
        labels = list(p.get("VersionLabels") or []) + ([p["VersionLabel"]] if p.get("VersionLabel") else [])
        resources += [eb(f"applicationversion/{app}/{label}") for label in labels]
        if p.get("TemplateName"):
            resources.append(uses["elasticbeanstalk:FromConfigurationTemplate"])
        if p.get("ResourceArn"):
            resources.append(p["ResourceArn"])
        if app and (not resources or req.action == "CreateApplicationVersion"):
            resources.append(eb(f"application/{app}"))
        if req.action == "ListAvailableSolutionStacks":
            resources.append(eb("solutionstack/*", account=False))

    tags = _tag_pairs(p.get("Tags") or p.get("TagsToAdd"))
    if req.action in ("CreateApplication", "CreateApplicationVersion", "CreateEnvironment"):
        context.update(request_tags(tags))
    checks: list[Check] = []
    if req.action == "UpdateTagsForResource":
        # Authorized as AddTags and RemoveTags (the Elastic Beanstalk API Reference,
        # UpdateTagsForResource: "elasticbeanstalk:AddTags ... elasticbeanstalk:RemoveTags").
        for arn in resources:
            if p.get("TagsToAdd"):
                checks.append(Check("elasticbeanstalk:AddTags", arn, request_tags(tags)))
            if p.get("TagsToRemove"):
                checks.append(Check("elasticbeanstalk:RemoveTags", arn, {"aws:TagKeys": sorted(p["TagsToRemove"])}))
        return checks or [req.check("*")]
    checks = [req.check(arn, dict(context)) for arn in resources] or [req.check("*", dict(context))]
    if req.action in ("CreateEnvironment", "UpdateEnvironment"):
        for option in p.get("OptionSettings") or []:
            namespace, name, value = option.get("Namespace"), option.get("OptionName"), option.get("Value")
            if namespace == "aws:elasticbeanstalk:environment" and name == "ServiceRole":
                checks += _pass_role(req, value, "elasticbeanstalk.amazonaws.com")
            if namespace == "aws:autoscaling:launchconfiguration" and name == "IamInstanceProfile":
                checks += _pass_role(req, _profile_role(req, value), "ec2.amazonaws.com")
    return checks


RESOLVERS = {
    "ec2": {
        "DescribeInstances": ec2_describe,
        "DescribeImages": ec2_describe,
        "DescribeSecurityGroups": ec2_describe,
        "DescribeVolumes": ec2_describe,
        "DescribeVpcs": ec2_describe,
        "DescribeSubnets": ec2_describe,
        "DescribeTags": ec2_describe,
        "CreateSecurityGroup": ec2_create_security_group,
        "CreateVolume": ec2_create_volume,
        "RunInstances": ec2_run_instances,
        "CreateTags": ec2_tags,
        "DeleteTags": ec2_tags,
        "AuthorizeSecurityGroupIngress": ec2_by_param("GroupId"),
        "AuthorizeSecurityGroupEgress": ec2_by_param("GroupId"),
        "RevokeSecurityGroupIngress": ec2_by_param("GroupId"),
        "RevokeSecurityGroupEgress": ec2_by_param("GroupId"),
        "DeleteSecurityGroup": ec2_by_param("GroupId"),
        "ModifyVolume": ec2_by_param("VolumeId"),
        "DeleteVolume": ec2_by_param("VolumeId"),
        "AttachVolume": ec2_by_param("InstanceId", "VolumeId"),
        "DetachVolume": ec2_by_param("InstanceId", "VolumeId"),
        "StartInstances": ec2_by_param("InstanceIds"),
        "StopInstances": ec2_by_param("InstanceIds"),
        "TerminateInstances": ec2_by_param("InstanceIds"),
        "ModifyInstanceAttribute": ec2_by_param("InstanceId"),
        "ModifyInstanceMetadataOptions": ec2_by_param("InstanceId"),
    },
    "iam": {
        **{
            action: iam_role
            for action in (
                "GetRole",
                "CreateRole",
                "DeleteRole",
                "UpdateRole",
                "UpdateAssumeRolePolicy",
                "TagRole",
                "UntagRole",
                "ListRoleTags",
                "PutRolePolicy",
                "GetRolePolicy",
                "DeleteRolePolicy",
                "ListRolePolicies",
                "AttachRolePolicy",
                "DetachRolePolicy",
                "ListAttachedRolePolicies",
                "ListInstanceProfilesForRole",
            )
        },
        **{
            action: iam_instance_profile
            for action in (
                "GetInstanceProfile",
                "CreateInstanceProfile",
                "DeleteInstanceProfile",
                "AddRoleToInstanceProfile",
                "RemoveRoleFromInstanceProfile",
                "TagInstanceProfile",
                "UntagInstanceProfile",
                "ListInstanceProfileTags",
            )
        },
    },
    "codebuild": {
        action: codebuild_project
        for action in ("BatchGetProjects", "CreateProject", "UpdateProject", "DeleteProject")
    },
    "codepipeline": {
        action: codepipeline_pipeline
        for action in (
            "GetPipeline",
            "CreatePipeline",
            "UpdatePipeline",
            "DeletePipeline",
            "ListTagsForResource",
            "TagResource",
            "UntagResource",
        )
    },
    "events": {
        action: events_rule
        for action in (
            "DescribeRule",
            "PutRule",
            "DeleteRule",
            "PutTargets",
            "RemoveTargets",
            "ListTargetsByRule",
            "ListTagsForResource",
            "TagResource",
            "UntagResource",
        )
    },
    "ssm": {
        action: ssm_parameter
        for action in (
            "GetParameter",
            "GetParameters",
            "PutParameter",
            "DeleteParameter",
            "ListTagsForResource",
            "AddTagsToResource",
            "RemoveTagsFromResource",
        )
    },
    "elasticbeanstalk": {
        action: eb_request
        for action in (
            "DescribeApplications",
            "CreateApplication",
            "UpdateApplication",
            "DeleteApplication",
            "DescribeApplicationVersions",
            "CreateApplicationVersion",
            "DeleteApplicationVersion",
            "DescribeEnvironments",
            "DescribeEnvironmentResources",
            "DescribeConfigurationSettings",
            "DescribeEvents",
            "CreateEnvironment",
            "UpdateEnvironment",
            "TerminateEnvironment",
            "ListTagsForResource",
            "UpdateTagsForResource",
            "ListAvailableSolutionStacks",
        )
    },
}

# Services whose every other call is authorized on `*` here; the rest keep moto's check.
EVALUATED = set(RESOLVERS)


def checks_of(response, service: str, action: str) -> list[Check]:
    resolver = RESOLVERS.get(service, {}).get(action)
    if resolver is None:
        return [Check(f"{service}:{action}", "*")]
    return resolver(Request(response, service, action))


def _denied(service: str, principal: str, check: Check, why: str) -> Exception:
    from xml.sax.saxutils import escape

    from moto.core.exceptions import JsonRESTError, _RESTError

    message = (
        f"User: {principal} is not authorized to perform: {check.action} on resource: "
        f"{check.resource} because {why}"
    )
    if service in JSON_SERVICES:
        error = JsonRESTError("AccessDeniedException", message)
        error.code = 400
        return error
    code = "UnauthorizedOperation" if service == "ec2" else "AccessDenied"
    error = _RESTError(code, message)
    error.code = 403
    if service == "ec2":
        # EC2's error document (the EC2 API Reference, "Error codes").
        body = f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message></Error></Errors><RequestID>infra-emulator</RequestID></Response>"
    else:
        # The query protocol's (IAM, Elastic Beanstalk): one Error in ErrorResponse.
        body = f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error><RequestId>infra-emulator</RequestId></ErrorResponse>"
    error.description = '<?xml version="1.0" encoding="UTF-8"?>\n' + body
    return error


RAW_BODY = "infra.raw_body"


def _keep_raw_body() -> None:
    """Keeps each request's body as it arrived, for the signature check.

    moto checks a SigV4 signature over `raw_body`, but for a form-encoded body (the
    query protocol: EC2, IAM, Elastic Beanstalk) werkzeug has consumed it into the
    form by then, and moto signs its own re-encoding of the parsed fields instead,
    which differs from the SDK's wherever the two percent-encode differently (a
    space as `%20` or `+`): a correct signature is then refused. The body is read
    once here and handed back to werkzeug unchanged."""
    import io

    from moto.core.request import Request

    original_init = Request.__init__

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original_init(self, *args, **kwargs)
        length = self.environ.get("CONTENT_LENGTH")
        if length and str(length).isdigit() and RAW_BODY not in self.environ:
            raw = self.environ["wsgi.input"].read(int(length))
            self.environ["wsgi.input"] = io.BytesIO(raw)
            self.environ[RAW_BODY] = raw

    Request.__init__ = __init__


def _authorize_deleted_objects_one_by_one() -> None:
    """DeleteObjects (a versioned bucket's emptying) is authorized per object.

    The S3 API Reference, DeleteObjects, "Permissions": `s3:DeleteObject` to delete an
    object, and `s3:DeleteObjectVersion` to delete a version of it; both act on the
    object's ARN (`arn:aws:s3:::bucket/key`, the Service Authorization Reference's
    `object` type). moto checks `s3:DeleteObject` once, on the bucket's ARN. Here each
    object listed is checked on its own ARN; when one is denied, moto's own handling
    answers AccessDenied for every key of the request (stricter than AWS, which
    answers per key)."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.s3.responses import S3Response

    original = S3Response._authenticate_and_authorize_s3_action

    def authorize(self, bucket_name=None, key_name=None):  # type: ignore[no-untyped-def]
        active = ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
        if not (active and bucket_name and key_name is None and self.data.get("Action") == "DeleteObject" and self.is_delete_keys()):
            return original(self, bucket_name=bucket_name, key_name=key_name)
        import xmltodict

        objects = xmltodict.parse(self.body or b"<Delete/>").get("Delete", {}) or {}
        objects = objects.get("Object", [])
        objects = objects if isinstance(objects, list) else [objects]
        try:
            for obj in objects:
                original(self, bucket_name=bucket_name, key_name=obj["Key"])
                if obj.get("VersionId"):
                    self.data["Action"] = "DeleteObjectVersion"
                    original(self, bucket_name=bucket_name, key_name=obj["Key"])
                    self.data["Action"] = "DeleteObject"
        finally:
            self.data["Action"] = "DeleteObject"
        return None

    S3Response._authenticate_and_authorize_s3_action = authorize


def apply() -> None:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest

    original = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action
    if getattr(original, "_infra_patched", False):
        return

    def authorize(self, resource: str = "*") -> None:  # type: ignore[no-untyped-def]
        service = None
        if ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT:
            authorization = self.headers.get("Authorization", "")
            scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", authorization)
            service = scope.group(1) if scope else None
        if service not in EVALUATED:
            return original(self, resource)
        # Authenticate (the signature, the key) as moto does, then authorize here.
        path = self.raw_path
        from urllib.parse import urlparse

        query = urlparse(self.uri).query
        request = IAMRequest(
            account_id=self.current_account,
            method=self.method,
            path=path + ("?" + query if query else ""),
            data=self.data,
            body=self.normalized_request.environ.get(RAW_BODY) or self.raw_body,
            headers=self.headers,
            action=self._get_action(),
        )
        request.check_signature()
        action = self._get_action()
        documents = _documents(request._access_key.collect_policies())
        principal = request._access_key.arn
        for check in checks_of(self, service, action):
            verdict = decide(documents, check)
            if verdict == "deny":
                raise _denied(service, principal, check, "an identity-based policy explicitly denies it")
            if verdict == "implicit":
                raise _denied(service, principal, check, f"no identity-based policy allows the {check.action} action")

    _keep_raw_body()
    _authorize_deleted_objects_one_by_one()
    authorize._infra_patched = True  # type: ignore[attr-defined]
    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = authorize


