// expect: the trait bound `Input<i64>: From<&str>` is not satisfied
// expect: required by a bound in `infra::aws::ec2::Volume::new`
// expect: size: impl Into<Input<i64>>
use infra::aws::ec2;

fn main() {
    let _ = ec2::Volume::new("us-east-1a", "thirty");
}
