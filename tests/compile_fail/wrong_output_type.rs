// expect: the trait bound `Input<String>: From<infra::program::Output<i64>>` is not satisfied
// expect: required by a bound in `infra::aws::ec2::Volume::new`
// expect: availability_zone: impl Into<Input<String>>
use infra::aws::ec2;
use infra::program::{Ctx, ProgramError};

fn declare(ctx: &mut Ctx) -> Result<(), ProgramError> {
    let data = ctx.add("data", ec2::Volume::new("us-east-1a", 30))?;
    // The size is a number, not a zone.
    ctx.add("copy", ec2::Volume::new(data.size(), 30))?;
    Ok(())
}

fn main() {
    let _ = infra::run(declare);
}
