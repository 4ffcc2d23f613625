"""EC2 DescribeSecurityGroups: a filter value without wildcards is compared, not compiled.

This patch changes no answer; it changes how long moto takes to give it.

AWS API reference:
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSecurityGroups.html
(`Filter.N`, e.g. `group-id` - "The ID of the security group"; `MaxResults` 5 to
1000), and the EC2 User Guide's "Filter your Amazon EC2 resources", which lets a
filter value hold the wildcards `*` (zero or more characters) and `?` (zero or one).
A `group-id` filter with a page of ids is how a client reads the groups it knows
without failing on one deleted meanwhile (GroupIds would fail the whole call with
InvalidGroup.NotFound).

moto 5.2.5 (`moto.ec2.models.security_groups`, through `moto.core.utils.aws_api_matches`)
rebuilds a regular expression from the filter value on every comparison: two
`re.subn` calls and an `re.match` per (value, group) pair. A `group-id` filter of 200
ids over 500 groups is 100,000 such builds, about a third of the call's time.

The patch keeps moto's function for any value holding a character other than ASCII
letters, digits, `-` and `_` (so every wildcard and every character with a meaning
in a regular expression still goes through it). For the others, which stand for
themselves in moto's anchored pattern `^value$`, it answers what that pattern would:
equal, or equal but for one trailing newline (`$` also matches before it).
"""

import re

# Characters that stand for themselves in a regular expression.
PLAIN = re.compile(r"[A-Za-z0-9_\-]*\Z")


def apply() -> None:
    from moto.ec2.models import security_groups

    original = security_groups.aws_api_matches
    if getattr(original, "_infra_patched", False):
        return

    def aws_api_matches(pattern, string):  # type: ignore[no-untyped-def]
        if isinstance(pattern, str) and PLAIN.match(pattern):
            text = str(string)
            return text == pattern or text == pattern + "\n"
        return original(pattern, string)

    aws_api_matches._infra_patched = True  # type: ignore[attr-defined]
    security_groups.aws_api_matches = aws_api_matches
