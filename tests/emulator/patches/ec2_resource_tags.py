"""EC2: a resource's own tags are looked up directly, not by scanning every tag in the region.

This patch changes no answer; it changes how long moto takes to give it.

AWS API reference:
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SecurityGroup.html
("Tags: Any tags assigned to the security group"), and likewise the `tagSet` of
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Volume.html and
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Instance.html: every
described resource carries its own tags, and the `tag:<key>` filters of
DescribeSecurityGroups, DescribeVolumes and DescribeInstances match on them.

moto 5.2.5 (`moto.ec2.models.core.TaggedEC2Resource.get_tags`, behind `tag_set`,
`tag_list` and `get_filter_value("tag:...")`) finds a resource's tags by calling
`TagBackend.describe_tags(filters={"resource-id": [id]})`, which walks every tag of
every resource in the region. Describing n tagged resources therefore costs
n x (all tags in the region): a DescribeSecurityGroups of 500 groups spends about
half its time there, and a tag filter over 1,000 resources more. AWS answers such
calls in time that grows with the page, not with its square.

The patch reads `TagBackend.tags[id]` (the dict `describe_tags` walks) directly. The
result is the list `describe_tags` returns for that filter, entry for entry and in
the same order: the `resource-id` filter is an fnmatch pattern anchored at both ends,
and EC2 ids hold no wildcard characters, so it selected exactly the entries of
`tags[id]`, in their insertion order.
"""


def apply() -> None:
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    if getattr(TaggedEC2Resource.get_tags, "_infra_patched", False):
        return

    def get_tags(self):  # type: ignore[no-untyped-def]
        if not self.id:
            return []
        # `.get`, not `[...]`: `tags` is a defaultdict, and reading must not add an entry.
        own = self.ec2_backend.tags.get(self.id, {})
        resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
        return [
            {"resource_id": self.id, "key": key, "value": value, "resource_type": resource_type}
            for key, value in own.items()
        ]

    get_tags._infra_patched = True  # type: ignore[attr-defined]
    TaggedEC2Resource.get_tags = get_tags
