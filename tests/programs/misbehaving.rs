//! A stack program that misbehaves as `INFRA_TEST_MODE` says, for the tests of
//! how `infra` runs a stack's `program` (tests/programs.rs): it panics, exits 1,
//! prints garbage or a newer format, declares what the schemas refuse,
//! takes too long, prints without end (`flood`), or shows the environment it
//! was given (`env`). Otherwise it declares one volume.

use std::process::ExitCode;

use infra::aws::ec2;

fn main() -> ExitCode {
    match std::env::var("INFRA_TEST_MODE").unwrap_or_default().as_str() {
        "panic" => infra::run(|_| panic!("a bug in the program")),
        "exit1" => {
            eprintln!("cannot read the team's settings");
            ExitCode::from(1)
        }
        "garbage" => {
            println!("   Compiling dev v0.1.0");
            ExitCode::SUCCESS
        }
        "newer" => {
            println!(r#"{{"infra_stack": 99, "name": "dev", "resources": {{}}}}"#);
            ExitCode::SUCCESS
        }
        "schema" => {
            println!(
                r#"{{"infra_stack": 1, "name": "dev", "resources": {{"data": {{"type": "ec2.volume", "properties": {{"availability_zone": "us-east-1a", "size": "thirty"}}}}}}}}"#
            );
            ExitCode::SUCCESS
        }
        "env" => {
            // What it was given, on standard error (the user's to see), then a declaration.
            for (name, value) in std::env::vars_os() {
                eprintln!("env: {}={}", name.to_string_lossy(), value.to_string_lossy());
            }
            infra::run(|ctx| {
                ctx.add("data", ec2::Volume::new("us-east-1a", 10))?;
                Ok(())
            })
        }
        "flood" => {
            use std::io::Write;
            let line = [b'x'; 1 << 20];
            let mut out = std::io::stdout().lock();
            while out.write_all(&line).is_ok() {}
            ExitCode::SUCCESS
        }
        "slow" => {
            std::thread::sleep(std::time::Duration::from_secs(60));
            ExitCode::SUCCESS
        }
        _ => infra::run(|ctx| {
            ctx.add("data", ec2::Volume::new("us-east-1a", 10))?;
            Ok(())
        }),
    }
}
