"""S3 GetBucketNotificationConfiguration: the EventBridge setting is reported, under the
root element NotificationConfiguration.

AWS API reference:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketNotificationConfiguration.html
Response syntax: `HTTP/1.1 200` with the body
`<NotificationConfiguration><TopicConfiguration>...</TopicConfiguration>...
<QueueConfiguration>...</QueueConfiguration>...<CloudFunctionConfiguration>...
</CloudFunctionConfiguration>...<EventBridgeConfiguration></EventBridgeConfiguration>
</NotificationConfiguration>`, where EventBridgeConfiguration ("Enables delivery of events
to Amazon EventBridge", an empty structure:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_EventBridgeConfiguration.html) is
present only when the bucket sends its events to EventBridge, as
PutBucketNotificationConfiguration set it
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html).

moto 5.2.5 stores the EventBridgeConfiguration that PutBucketNotificationConfiguration
receives (`moto.s3.models.NotificationConfiguration.event_bridge`) but
`moto.s3.responses.S3Response.get_bucket_notification` never reports it, and for a bucket
with no topic, queue or function configuration it names the root
`GetBucketNotificationResponse` (the Rust SDK checks the root's name). This patch renames
that root and adds the empty EventBridgeConfiguration element when moto holds one; every
other element is moto's, unchanged.
"""

ROOT = "NotificationConfiguration"
WRONG_ROOT = "GetBucketNotificationResponse"
ELEMENT = "<EventBridgeConfiguration></EventBridgeConfiguration>"


def apply() -> None:
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification
    if getattr(original, "_infra_patched", False):
        return

    def get_bucket_notification(self):  # type: ignore[no-untyped-def]
        status, headers, body = original(self)
        text = body.decode() if isinstance(body, bytes) else body
        if not isinstance(text, str):
            return status, headers, body
        text = text.replace(WRONG_ROOT, ROOT)
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is not None and config.event_bridge is not None:
            text = with_event_bridge(text)
        return status, headers, text.encode() if isinstance(body, bytes) else text

    get_bucket_notification._infra_patched = True  # type: ignore[attr-defined]
    S3Response.get_bucket_notification = get_bucket_notification


def with_event_bridge(text: str) -> str:
    """The document with the EventBridgeConfiguration element as the root's last child."""
    close = f"</{ROOT}>"
    if close in text:
        return text.replace(close, ELEMENT + close)
    # An empty root, written `<NotificationConfiguration xmlns="..."/>`.
    head, _, _ = text.rpartition("/>")
    return f"{head}>{ELEMENT}{close}"
