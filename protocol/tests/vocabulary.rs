//! The vocabulary crate is the one definition of the protocol's enums in
//! Rust; this test holds every name and value in it to the XML, so the two
//! cannot drift apart.

use accord_protocol::vocabulary::{
    codec, CoherencyDomains, ColorSpace, FailureReason, MemoryKind, Usage,
};

const XML: &str = include_str!("../buffer-collection-v1.xml");

/// `(name, value)` of every entry of the XML enum `enum_name` (the first
/// enum of that name: names are unique within the collection interface).
fn xml_enum(enum_name: &str) -> Vec<(String, u32)> {
    let open = format!("<enum name=\"{enum_name}\"");
    let start = XML
        .find(&open)
        .unwrap_or_else(|| panic!("no enum {enum_name} in the XML"));
    let body = &XML[start..start + XML[start..].find("</enum>").expect("closed enum")];
    body.split("<entry ")
        .skip(1)
        .map(|entry| {
            let attr = |key: &str| {
                let k = format!("{key}=\"");
                let from = entry.find(&k).expect("attribute") + k.len();
                entry[from..from + entry[from..].find('"').expect("quote")].to_string()
            };
            let value = attr("value");
            let value = match value.strip_prefix("0x") {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => value.parse(),
            }
            .expect("numeric value");
            (attr("name"), value)
        })
        .collect()
}

#[test]
fn failure_reasons_match_the_xml() {
    let xml = xml_enum("failure_reason");
    let ours: Vec<_> = FailureReason::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), r.to_wire()))
        .collect();
    assert_eq!(ours, xml);
}

#[test]
fn usage_bits_match_the_xml() {
    let xml = xml_enum("usage");
    let ours: Vec<_> = Usage::NAMES
        .iter()
        .map(|(n, u)| (n.to_string(), u.0))
        .collect();
    assert_eq!(ours, xml);
    assert_eq!(Usage::ALL.0, xml.iter().fold(0, |a, (_, v)| a | v));
}

#[test]
fn memory_kinds_match_the_xml() {
    let xml = xml_enum("memory_kind");
    let ours: Vec<_> = MemoryKind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), k.to_wire()))
        .collect();
    assert_eq!(ours, xml);
}

#[test]
fn format_flags_match_the_xml() {
    assert_eq!(
        xml_enum("format_flags"),
        vec![("scanout".to_string(), codec::FORMAT_FLAG_SCANOUT)]
    );
}

#[test]
fn color_spaces_match_the_xml() {
    let ours: Vec<_> = ColorSpace::NAMES
        .iter()
        .map(|(n, c)| (n.to_string(), c.0))
        .collect();
    assert_eq!(ours, xml_enum("color_space"));
}

#[test]
fn coherency_domains_match_the_xml() {
    let xml = xml_enum("coherency_domain");
    let ours: Vec<_> = CoherencyDomains::NAMES
        .iter()
        .map(|(n, d)| (n.to_string(), d.0))
        .collect();
    assert_eq!(ours, xml);
    assert_eq!(
        CoherencyDomains::ALL.0,
        xml.iter().fold(0, |a, (_, v)| a | v)
    );
}
