// expect: the trait bound `Input<VolumeType>: From<&str>` is not satisfied
// expect: required by a bound in `infra::aws::ec2::Volume::volume_type`
use infra::aws::ec2;

fn main() {
    let _ = ec2::Volume::new("us-east-1a", 30).volume_type("gp3");
}
