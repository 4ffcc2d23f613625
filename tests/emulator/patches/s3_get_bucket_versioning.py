"""S3 GetBucketVersioning: the response's root element is VersioningConfiguration.

AWS API reference:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html
Response syntax: `HTTP/1.1 200` with the body
`<VersioningConfiguration><Status>string</Status><MfaDelete>string</MfaDelete></VersioningConfiguration>`
(both elements omitted for a bucket that was never versioned).

moto 5.2.5 (`moto.s3.responses.S3Response.get_bucket_versioning`, through its generic
S3 serializer) names the root `GetBucketVersioningResponse` instead. boto3 ignores the
root's name; the Rust SDK checks it and fails with "encountered invalid XML root:
expected VersioningConfiguration". This patch renames the root element and changes
nothing else.
"""

WRONG_ROOT = "GetBucketVersioningResponse"
ROOT = "VersioningConfiguration"


def apply() -> None:
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_versioning
    if getattr(original, "_infra_patched", False):
        return

    def get_bucket_versioning(self):  # type: ignore[no-untyped-def]
        status, headers, body = original(self)
        if isinstance(body, bytes):
            body = body.replace(WRONG_ROOT.encode(), ROOT.encode())
        elif isinstance(body, str):
            body = body.replace(WRONG_ROOT, ROOT)
        return status, headers, body

    get_bucket_versioning._infra_patched = True  # type: ignore[attr-defined]
    S3Response.get_bucket_versioning = get_bucket_versioning
