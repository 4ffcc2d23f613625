"""EC2 CreateVolume and RunInstances: a `ClientToken` makes the request idempotent (moto 5.2.5
ignores it).

AWS documentation:

- "Ensuring idempotency in Amazon EC2 API requests"
  (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html), which lists
  CreateVolume and RunInstances among the actions that "optionally support idempotency
  using a client token": "Idempotency ensures that an API request completes no more than
  one time. With an idempotent request, if the original request completes successfully,
  any subsequent retries complete successfully without performing any further actions.
  However, the result might contain updated information, such as the current creation
  status." ... "A client token is a unique, case-sensitive string of up to 64 ASCII
  characters." ... "If you retry a request that completed successfully using the same
  client token and the same parameters, the retry succeeds without performing any further
  actions. If you retry a successful request using the same client token, but one or more
  of the parameters are different, other than the Region or Availability Zone, the retry
  fails with an IdempotentParameterMismatch error."
- The same guide's earlier edition, on RunInstances
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Run_Instance_Idempotency.html):
  "If you repeat a request, the same response is returned for each repeated request. The
  only information that might vary in the response is the state of the instance." ... "A
  client token is valid for at least 24 hours after the termination of the instance." ...
  "You can use the same client token for the same request across different Regions. For
  example, if you send an idempotent request to launch an instance in the us-east-1
  Region, and then use the same client token in a request in other Regions, we launch
  instances in each of those Regions."
- API reference, `ClientToken` of
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolume.html: "Unique,
  case-sensitive identifier that you provide to ensure the idempotency of the request.";
  of https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html: "Unique,
  case-sensitive identifier you provide to ensure the idempotency of the request. If you
  do not specify a client token, a randomly generated token is used for the request to
  ensure idempotency." (The SDKs fill in a fresh token when the caller gives none: botocore
  and the Rust SDK mark both members `idempotencyToken`.)
- Error codes (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html),
  a client error (HTTP 400): "IdempotentParameterMismatch: The request uses the same client
  token as a previous, but non-identical request. Do not reuse a client token with
  different requests, unless the requests are identical." The reference gives no message;
  the one used is what EC2 answers, as users quote it (e.g.
  https://serverfault.com/questions/818956): "Arguments on this idempotent request are
  inconsistent with arguments used in previous request(s)."
- "Common query parameters"
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/CommonParameters.html): `Action`,
  `Version`, the signature parameters (`X-Amz-*`; `AWSAccessKeyId`, `Signature`,
  `SignatureMethod`, `SignatureVersion`, `Timestamp`, `Expires`, `SecurityToken`) and
  `DryRun` are common to every action, not parameters of the request's own.

moto 5.2.5 (`moto.ec2.responses.elastic_block_store.ElasticBlockStore.create_volume` and
`moto.ec2.responses.instances.InstanceResponse.run_instances`) never looks at a token:
CreateVolume does not read `ClientToken` at all, and RunInstances only stores it on the
instances (`Instance.client_token`, shown by DescribeInstances) and never reuses it. Every
retry of a request whose answer was lost therefore makes another volume or reservation.

The patch wraps both handlers on `moto.ec2.responses.EC2Response`:

- A request without `ClientToken` (or with `DryRun=true`, which performs nothing) goes to
  moto as before.
- Tokens are kept per account and Region (on moto's EC2 backend of the request's account
  and Region, so a moto reset forgets them), per action, and per Availability Zone named in
  the request (CreateVolume `AvailabilityZone`/`AvailabilityZoneId`, RunInstances
  `Placement.AvailabilityZone`/`Placement.AvailabilityZoneId`). The guide excepts the Region
  and the Availability Zone from the parameters that must match and treats another Region
  as another request; the zone is read the same way, so the same token in another zone
  makes a resource there instead of failing.
- The parameters compared are every query parameter of the request except `ClientToken`,
  the zone and the common parameters above (so neither the signature nor the API version
  makes two sends of one request differ). Values are compared as sent.
- The first successful request with a token is remembered with its parameters and its
  result (the volume; the reservation). A failed request is not remembered, so its retry
  runs again. A later request with the same token and the same parameters creates nothing
  and returns that result as the resource is now: CreateVolume the volume's current
  description (e.g. `in-use` once attached, `deleted` once deleted), RunInstances the same
  reservation with the same instances in their current state (a first answer of moto's
  always says `pending`; a repeated one says what DescribeInstances would). With other
  parameters it fails with `IdempotentParameterMismatch`.
- One lock per (account, Region, action, zone, token) makes check, create and remember
  one step, so concurrent requests with one token make one resource.
"""

from __future__ import annotations

import copy
import threading

TOKEN = "ClientToken"
MISMATCH = (
    "IdempotentParameterMismatch",
    "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).",
)
# "Common query parameters": not the action's own parameters.
COMMON = frozenset(
    {
        "Action",
        "Version",
        "DryRun",
        "AWSAccessKeyId",
        "Expires",
        "Timestamp",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SecurityToken",
    }
)
ZONE = {
    "CreateVolume": ("AvailabilityZone", "AvailabilityZoneId"),
    "RunInstances": ("Placement.AvailabilityZone", "Placement.AvailabilityZoneId"),
}
# moto's response transformers that fix the state of a first answer; a repeated answer
# reports the current state instead. (CreateVolume's path matches nothing in moto 5.2.5,
# whose first answer is the volume's current state already.)
FIRST_ANSWER_STATE = {
    "CreateVolume": "CreateVolumeResponse.State",
    "RunInstances": "RunInstances.Reservation.Instances.Instance.State",
}

_STATE_LOCK = threading.Lock()


class _Tokens:
    """The tokens of one EC2 backend (one account and Region)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.locks: dict[tuple, threading.Lock] = {}
        # key -> (parameters of the first request, its result)
        self.done: dict[tuple, tuple[dict, object]] = {}

    def lock_for(self, key: tuple) -> threading.Lock:
        with self.lock:
            return self.locks.setdefault(key, threading.Lock())


def _tokens(backend) -> _Tokens:  # type: ignore[no-untyped-def]
    # On the backend itself: moto's reset replaces its __dict__, and the tokens go with it.
    tokens = backend.__dict__.get("_infra_client_tokens")
    if tokens is None:
        with _STATE_LOCK:
            tokens = backend.__dict__.get("_infra_client_tokens")
            if tokens is None:
                tokens = _Tokens()
                backend._infra_client_tokens = tokens
    return tokens


def _first(querystring: dict, name: str) -> str:
    values = querystring.get(name) or [""]
    return values[0]


def _parameters(querystring: dict, action: str) -> dict[str, tuple]:
    zone = ZONE[action]
    return {
        name: tuple(values)
        for name, values in querystring.items()
        if name != TOKEN and name not in COMMON and name not in zone and not name.startswith("X-Amz-")
    }


def _current_volume(backend, volume):  # type: ignore[no-untyped-def]
    current = backend.volumes.get(volume.id)
    if current is not None:
        return current
    # Deleted since: the volume as it was, in the state `deleted`.
    deleted = copy.copy(volume)
    deleted.__class__ = type(type(volume).__name__, (type(volume),), {"status": "deleted"})
    return deleted


def _idempotent(action: str, original):  # type: ignore[no-untyped-def]
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import EC2ClientError

    def handler(self):  # type: ignore[no-untyped-def]
        token = _first(self.querystring, TOKEN)
        if not token or _first(self.querystring, "DryRun").lower() == "true":
            return original(self)
        backend = self.ec2_backend
        tokens = _tokens(backend)
        key = (action, tuple(_first(self.querystring, name) for name in ZONE[action]), token)
        parameters = _parameters(self.querystring, action)
        with tokens.lock_for(key):
            done = tokens.done.get(key)
            if done is None:
                response = original(self)
                if isinstance(response, ActionResult):
                    tokens.done[key] = (parameters, response.result)
                return response
            first_parameters, result = done
            if parameters != first_parameters:
                raise EC2ClientError(*MISMATCH)
            if action == "CreateVolume":
                result = _current_volume(backend, result)
            # The resource as it is now, not moto's fixed state of a first answer.
            self.RESPONSE_KEY_PATH_TO_TRANSFORMER = {
                path: transform
                for path, transform in type(self).RESPONSE_KEY_PATH_TO_TRANSFORMER.items()
                if path != FIRST_ANSWER_STATE[action]
            }
            return ActionResult(result)

    handler.__name__ = original.__name__
    handler._infra_patched = True  # type: ignore[attr-defined]
    return handler


def apply() -> None:
    from moto.ec2.responses import EC2Response

    if getattr(EC2Response.create_volume, "_infra_patched", False):
        return
    EC2Response.create_volume = _idempotent("CreateVolume", EC2Response.create_volume)
    EC2Response.run_instances = _idempotent("RunInstances", EC2Response.run_instances)
