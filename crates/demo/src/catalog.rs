//! The shop's catalogue: products 1 to [`PRODUCT_COUNT`], generated deterministically from the id.

use serde_json::{Value, json};

use crate::shop::mix;

/// Number of products; ids run from 1 to this inclusive, anything else is unknown (404).
pub const PRODUCT_COUNT: u32 = 999;

const ADJECTIVES: [&str; 10] = [
    "Red",
    "Blue",
    "Classic",
    "Vintage",
    "Trail",
    "Urban",
    "Lightweight",
    "Waterproof",
    "Cosy",
    "Sport",
];
const NOUNS: [&str; 12] = [
    "Shoes",
    "Running Shoes",
    "Boots",
    "Sneakers",
    "Jacket",
    "Backpack",
    "T-Shirt",
    "Hoodie",
    "Socks",
    "Cap",
    "Sandals",
    "Water Bottle",
];
const CATEGORIES: [&str; 12] = [
    "footwear",
    "footwear",
    "footwear",
    "footwear",
    "clothing",
    "bags",
    "clothing",
    "clothing",
    "clothing",
    "accessories",
    "footwear",
    "accessories",
];

/// One product of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// The id, 1 to [`PRODUCT_COUNT`].
    pub id: u32,
    /// Display name, e.g. "Trail Running Shoes".
    pub name: String,
    /// Category, e.g. "footwear".
    pub category: &'static str,
    /// Price in cents.
    pub price_cents: u32,
    /// Units in stock.
    pub stock: u32,
}

impl Product {
    /// The product as served by the API.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "price": f64::from(self.price_cents) / 100.0,
            "stock": self.stock,
        })
    }
}

/// The product with this id, if it exists.
pub fn product(id: u32) -> Option<Product> {
    if !(1..=PRODUCT_COUNT).contains(&id) {
        return None;
    }
    let h = mix(u64::from(id));
    let adjective = ADJECTIVES[id as usize % ADJECTIVES.len()];
    let noun_index = (id as usize / ADJECTIVES.len()) % NOUNS.len();
    Some(Product {
        id,
        name: format!("{adjective} {}", NOUNS[noun_index]),
        category: CATEGORIES[noun_index],
        // 4.99 to 199.99, always ending in .99.
        price_cents: 499 + (h % 196) as u32 * 100,
        stock: ((h >> 16) % 250) as u32,
    })
}

/// Every product, in id order.
pub fn all() -> impl Iterator<Item = Product> {
    (1..=PRODUCT_COUNT).filter_map(product)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_deterministic_and_bounded() {
        assert_eq!(product(0), None);
        assert_eq!(product(PRODUCT_COUNT + 1), None);
        assert_eq!(product(42), product(42));
        assert_eq!(all().count(), PRODUCT_COUNT as usize);
        assert!(all().any(|p| p.name.contains("Shoes")));
        assert!(all().all(|p| (499..=19999).contains(&p.price_cents)));
    }
}
