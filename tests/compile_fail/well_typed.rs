// A well-typed program compiles: the harness itself is sound.
use infra::aws::{ec2, elasticbeanstalk as eb};
use infra::program::{Ctx, Ports, ProgramError};

fn declare(ctx: &mut Ctx) -> Result<(), ProgramError> {
    let data = ctx.add("data", ec2::Volume::new("us-east-1a", 30).volume_type(ec2::VolumeType::Gp3))?;
    let sg = ctx.add("sg", ec2::SecurityGroup::new().ingress([ec2::Rule::new().ports(Ports::range(6379, 6381))]))?;
    ctx.add("copy", ec2::Volume::new(data.availability_zone(), data.size()))?;
    let setting = eb::OptionSetting { namespace: "ns".into(), name: "n".into(), value: sg.id().into() };
    ctx.add("app_env", eb::Environment::new("app").option_settings([setting]))?;
    ctx.output("url", infra::template!("http://{}:9200", data.id()));
    Ok(())
}

fn main() {
    let _ = infra::run(declare);
}
