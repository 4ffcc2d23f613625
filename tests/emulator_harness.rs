//! The emulator harness itself (tests/common/mod.rs): emulators start side by side on
//! distinct free ports, answer the AWS SDK, and do not share state.

mod common;

use common::Emulator;

#[tokio::test]
async fn the_emulator_starts_on_a_free_port_and_answers_ec2() {
    // Two at once, as parallel tests do.
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(Emulator::start);
        let second = scope.spawn(Emulator::start);
        (first.join().unwrap(), second.join().unwrap())
    });

    assert_ne!(first.port(), second.port(), "two emulators got the same port");
    for emulator in [&first, &second] {
        assert_eq!(
            emulator.endpoint,
            format!("http://127.0.0.1:{}", emulator.port()),
            "the emulator must listen on loopback"
        );
    }

    let ec2 = aws_sdk_ec2::Client::new(&first.sdk_config().await);
    let vpcs = ec2
        .describe_vpcs()
        .send()
        .await
        .unwrap_or_else(|error| panic!("DescribeVpcs failed: {error:?}\nemulator stderr:\n{}", first.stderr()))
        .vpcs
        .unwrap_or_default();
    let default_vpc =
        vpcs.iter().find(|vpc| vpc.is_default == Some(true)).unwrap_or_else(|| panic!("no default VPC in {vpcs:#?}"));
    assert_eq!(default_vpc.cidr_block.as_deref(), Some("172.31.0.0/16"));

    // What one test creates, another test's emulator does not see.
    let created = ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .send()
        .await
        .expect("CreateVpc")
        .vpc
        .and_then(|vpc| vpc.vpc_id)
        .expect("CreateVpc returns the new VPC's id");
    let other = aws_sdk_ec2::Client::new(&second.sdk_config().await);
    let other_ids: Vec<String> = other
        .describe_vpcs()
        .send()
        .await
        .expect("DescribeVpcs on the second emulator")
        .vpcs
        .unwrap_or_default()
        .into_iter()
        .filter_map(|vpc| vpc.vpc_id)
        .collect();
    assert!(!other_ids.contains(&created), "{created} created in one emulator is visible in another: {other_ids:?}");
}
