//! `iam.role`: an IAM role: trust policy, managed policy ARNs, inline policies.
//!
//! (Not yet implemented: the schema and provider are filled in next.)

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Ctx, Observed, Provider, ProviderError};
use crate::model::schema::{BASE, Schema};
use crate::model::{Kind, Props};

pub static SCHEMA: Schema = Schema { type_name: "iam.role", ..BASE };

/// The `iam.role` provider.
pub struct Roles {
    client: aws_sdk_iam::Client,
}

impl Roles {
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        Roles { client }
    }
}

fn todo() -> ProviderError {
    ProviderError::Invalid("iam.role is not implemented yet".into())
}

#[async_trait]
impl Provider for Roles {
    fn kind(&self) -> Kind {
        Kind::Role
    }
    async fn read_many(&self, _ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let _ = &self.client;
        Err(todo())
    }
    async fn find_tagged(&self, _stack: &str) -> Result<BTreeMap<String, Observed>, ProviderError> {
        Err(todo())
    }
    async fn create(&self, _ctx: &Ctx, _props: &Props) -> Result<Observed, ProviderError> {
        Err(todo())
    }
    async fn update(&self, _ctx: &Ctx, _id: &str, _b: &Props, _a: &Props) -> Result<Observed, ProviderError> {
        Err(todo())
    }
    async fn delete(&self, _ctx: &Ctx, _id: &str, _props: &Props) -> Result<(), ProviderError> {
        Err(todo())
    }
}
