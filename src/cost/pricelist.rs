//! Reading the AWS Price List Query API's answers (GetProducts): each entry
//! of `PriceList` is a JSON document with the product's `attributes` and its
//! `terms.OnDemand` offers, each with `priceDimensions` whose
//! `pricePerUnit.USD` is the price of one `unit` (`Hrs`, `GB-Mo`, `Minutes`).
//! See "Using the Price List Query API" in the AWS Billing user guide.
//!
//! Fetching is [`crate::provider::pricing`]'s; this module only reads.

use serde_json::Value as J;

/// One product's on-demand price.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductPrice {
    /// The attribute that names it (`instanceType`, `volumeApiName`, ...).
    pub key: String,
    /// `regionCode`.
    pub region: String,
    pub unit: String,
    pub usd: f64,
}

/// Reads one `PriceList` entry, naming the product by the attribute `key`.
/// A product without an on-demand USD price is `None` (a reserved-only
/// offer); a document that is not a product is an error.
pub fn product(document: &str, key: &str) -> Result<Option<ProductPrice>, String> {
    let doc: J = serde_json::from_str(document).map_err(|e| format!("a price list entry is not JSON: {e}"))?;
    let attributes = doc.pointer("/product/attributes").ok_or("a price list entry has no product.attributes")?;
    let name = attributes.get(key).and_then(J::as_str).ok_or_else(|| format!("a product has no `{key}` attribute"))?;
    let region = attributes.get("regionCode").and_then(J::as_str).unwrap_or_default();
    let Some(offers) = doc.pointer("/terms/OnDemand").and_then(J::as_object) else { return Ok(None) };
    for offer in offers.values() {
        let Some(dimensions) = offer.get("priceDimensions").and_then(J::as_object) else { continue };
        for dimension in dimensions.values() {
            let usd = dimension.pointer("/pricePerUnit/USD").and_then(J::as_str);
            let unit = dimension.get("unit").and_then(J::as_str).unwrap_or_default();
            // A tiered price lists its first tier from 0; take that one.
            let begins_at_zero = dimension.get("beginRange").and_then(J::as_str).is_none_or(|b| b == "0");
            if let (Some(usd), true) = (usd, begins_at_zero) {
                let usd: f64 = usd.parse().map_err(|_| format!("`{name}`: price `{usd}` is not a number"))?;
                return Ok(Some(ProductPrice {
                    key: name.to_string(),
                    region: region.to_string(),
                    unit: unit.into(),
                    usd,
                }));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/pricelist/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn an_ec2_product_reads_as_its_on_demand_hourly_price_not_its_reserved_one() {
        let p = product(&fixture("ec2.json"), "instanceType").unwrap().unwrap();
        assert_eq!(
            p,
            ProductPrice { key: "t3.medium".into(), region: "ap-northeast-2".into(), unit: "Hrs".into(), usd: 0.052 }
        );
    }

    #[test]
    fn elasticache_and_opensearch_products_read_as_their_node_and_instance_hours() {
        let cache = product(&fixture("elasticache.json"), "instanceType").unwrap().unwrap();
        assert_eq!((cache.key.as_str(), cache.region.as_str(), cache.usd), ("cache.t3.medium", "us-east-1", 0.068));
        let search = product(&fixture("opensearch.json"), "instanceType").unwrap().unwrap();
        assert_eq!((search.key.as_str(), search.unit.as_str(), search.usd), ("t3.medium.search", "Hrs", 0.073));
    }

    #[test]
    fn a_product_with_no_on_demand_offer_has_no_price_and_garbage_is_an_error() {
        assert_eq!(product(&fixture("reserved_only.json"), "instanceType").unwrap(), None);
        assert!(product("{", "instanceType").unwrap_err().contains("not JSON"));
        assert!(product(r#"{"terms":{}}"#, "instanceType").unwrap_err().contains("no product.attributes"));
        assert!(product(&fixture("ec2.json"), "volumeApiName").unwrap_err().contains("no `volumeApiName` attribute"));
    }
}
