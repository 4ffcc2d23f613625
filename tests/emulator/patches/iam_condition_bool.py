"""IAM policy conditions: a statement whose condition is not met does not apply; the
`Bool` operator; and a condition on a key the request does not carry.

IAM User Guide, "IAM JSON policy elements: Condition operators" (Boolean condition
operators: `Bool` matches "true" or "false", case-insensitively; `...IfExists`: "If the
policy key is present in the context of the request, process the key as specified in the
policy. If the key is not present, evaluate the condition element as true"):
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
and "Condition element": a key that is not in the request context does not match, so
the condition is not met (for the non-negated operators such as `Bool`):
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html

A statement applies only when its Condition is met ("Policy evaluation logic": a
statement whose conditions do not match the request neither allows nor denies it:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).

moto 5.2.5 gets both wrong:
- `moto.iam.access_control.IAMPolicyStatement.is_action_permitted` answers DENIED for a
  statement whose condition is not met, whatever its Effect: an `Allow` with an unmet
  condition denies the request even when another statement allows it. Here such a
  statement is NEUTRAL (it does not apply).
- `moto.iam.policy_conditions` evaluates `StringEquals` only and takes any other operator
  as met ("If the evaluation operation is not supported, ignore condition evaluation"), so
  a bucket policy statement `Deny s3:* if Bool aws:SecureTransport = false` (AWS's own
  TLS-only example) denies every request. Here `Bool` and `BoolIfExists` are evaluated;
  every other operator is left as moto has it.

What this emulator still does not model: moto supplies no request context for S3's
bucket-policy check, so `aws:SecureTransport` is absent there and a TLS-only Deny is never
met. (The emulator speaks plain HTTP; real S3 would refuse such requests with that policy.)
"""


def _bool_matches(expected, actual: str) -> bool:
    values = expected if isinstance(expected, list) else [expected]
    return any(str(v).lower() == str(actual).lower() for v in values)


def apply() -> None:
    from moto.iam import policy_conditions
    from moto.iam.policy_conditions import TrustCondition

    original = TrustCondition.verify_condition
    if getattr(original, "_infra_patched", False):
        return

    def verify_condition(self, actual_values):  # type: ignore[no-untyped-def]
        operator = self._condition
        if operator not in ("Bool", "BoolIfExists"):
            return original(self, actual_values)
        # moto collects one value per key it finds in the request context, in key order;
        # a key it does not find adds nothing.
        if len(actual_values) < len(self._expected_value_source):
            # A key the request does not carry: not met, unless ...IfExists.
            return operator == "BoolIfExists"
        return all(_bool_matches(self._expected_value[i], v) for i, v in enumerate(actual_values))

    verify_condition._infra_patched = True  # type: ignore[attr-defined]
    TrustCondition.verify_condition = verify_condition

    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original_permitted = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):  # type: ignore[no-untyped-def]
        if self._statement.get("Condition") and not self._check_conditions(incoming_condition_values):
            return PermissionResult.NEUTRAL
        return original_permitted(self, action, resource, principal, incoming_condition_values)

    IAMPolicyStatement.is_action_permitted = is_action_permitted
    policy_conditions.CONDITION_OPERATIONS.setdefault("Bool", lambda expected, actual: _bool_matches(expected, actual))
