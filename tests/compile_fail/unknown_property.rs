// expect: no method named `sise` found for struct `infra::aws::ec2::Volume`
use infra::aws::ec2;

fn main() {
    let _ = ec2::Volume::new("us-east-1a", 30).sise(60);
}
