// expect: this function takes 2 arguments but 1 argument was supplied
// expect: /* size */
use infra::aws::ec2;

fn main() {
    let _ = ec2::Volume::new("us-east-1a");
}
