// expect: missing field `value` in initializer of `OptionSetting`
use infra::aws::elasticbeanstalk as eb;

fn main() {
    let _ = eb::OptionSetting { namespace: "aws:elasticbeanstalk:command".into(), name: "Timeout".into() };
}
