"""S3 ExpectedBucketOwner: a request naming another account than the bucket's owner is
refused with 403 AccessDenied.

AWS documentation, "Verifying bucket ownership with bucket owner condition":
https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
"If the ExpectedBucketOwner parameter is specified and the bucket is owned by a different
account, the request fails with an HTTP 403 (Access Denied) error." The parameter is the
`x-amz-expected-bucket-owner` header of the bucket and object operations (e.g.
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax);
the error body is S3's usual `<Error><Code>AccessDenied</Code>...` (HEAD: no body).

moto 5.2.5 ignores the header: every account's request reaches every bucket (moto's
buckets share one namespace, `s3_backends.bucket_accounts` naming each one's account).
This patch checks the header, on bucket and object requests alike, before moto handles
them; a request without the header, or for a bucket that does not exist, is left to moto.
"""

HEADER = "x-amz-expected-bucket-owner"


def apply() -> None:
    from moto.s3.models import s3_backends
    from moto.s3.responses import S3Response

    if getattr(S3Response._bucket_response, "_infra_owner_patched", False):
        return

    def refused(self, request, full_url):  # type: ignore[no-untyped-def]
        expected = request.headers.get(HEADER)
        if not expected:
            return None
        bucket = self.parse_bucket_name_from_url(request, full_url)
        owner = s3_backends.bucket_accounts.get(bucket)
        if not bucket or owner is None or owner[1] == expected:
            return None
        body = "" if request.method == "HEAD" else (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
            f"<BucketName>{bucket}</BucketName></Error>"
        )
        return 403, {"content-type": "application/xml"}, body

    for name in ("_bucket_response", "_key_response"):
        original = getattr(S3Response, name)

        def checked(self, request, full_url, _original=original):  # type: ignore[no-untyped-def]
            return refused(self, request, full_url) or _original(self, request, full_url)

        checked._infra_owner_patched = True  # type: ignore[attr-defined]
        setattr(S3Response, name, checked)
