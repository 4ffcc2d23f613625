// expect: struct `infra::aws::ec2::Rule` has no field named `prots`
use infra::aws::ec2;

fn main() {
    let _ = ec2::Rule { prots: None, ..Default::default() };
}
