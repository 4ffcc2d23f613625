"""EC2 AttachVolume: a volume that is attached already is refused with VolumeInUse.

AWS API reference, "Error codes for the Amazon EC2 API"
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html):
"VolumeInUse: The specified EBS volume is attached to an instance. Ensure that the
specified volume is detached before attempting to attach it to an instance." And
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AttachVolume.html: an EBS
volume (other than a Multi-Attach io1/io2 volume) is attached to one instance at a time.

moto 5.2.5 (`moto.ec2.models.elastic_block_store.EBSBackend.attach_volume`) replaces the
volume's attachment with the new one whatever it was: a second AttachVolume of an
attached volume succeeds, and can even move it to another instance without a detach.

The patch raises moto's own VolumeInUseError (code `VolumeInUse`) when the volume has an
attachment, before moto changes anything; a volume with none attaches as before.
"""


def apply() -> None:
    from moto.ec2.exceptions import VolumeInUseError
    from moto.ec2.models.elastic_block_store import EBSBackend

    original = EBSBackend.attach_volume
    if getattr(original, "_infra_patched", False):
        return

    def attach_volume(self, volume_id, instance_id, device_path, delete_on_termination=False):  # type: ignore[no-untyped-def]
        volume = self.volumes.get(volume_id)
        if volume is not None and volume.attachment is not None:
            raise VolumeInUseError(volume_id, volume.attachment.instance.id)
        return original(self, volume_id, instance_id, device_path, delete_on_termination)

    attach_volume._infra_patched = True  # type: ignore[attr-defined]
    EBSBackend.attach_volume = attach_volume
