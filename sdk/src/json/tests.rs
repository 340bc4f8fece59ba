use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::*;

fn err(input: &str) -> String {
    parse(input.as_bytes()).unwrap_err().to_string()
}

#[test]
fn parses_every_kind_of_value() {
    let v = parse(br#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d\u00e9\n\ud83d\ude00"}} "#).unwrap();
    let a = v.get("a").and_then(Value::as_array).unwrap();
    assert_eq!(a[0].as_u64(), Some(1));
    assert_eq!(a[1].as_f64(), Some(-2500.0));
    assert_eq!(a[1].as_i64(), None);
    assert_eq!(a[2].as_bool(), Some(true));
    assert_eq!(a[3].as_bool(), Some(false));
    assert!(a[4].is_null());
    assert_eq!(v.pointer(["b", "c"]).and_then(Value::as_str), Some("d\u{e9}\n\u{1F600}"));
    assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["a", "b"]);
}

#[test]
fn integers_are_exact_over_their_whole_range() {
    assert_eq!(parse(b"18446744073709551615").unwrap().as_u64(), Some(u64::MAX));
    assert_eq!(parse(b"-9223372036854775808").unwrap().as_i64(), Some(i64::MIN));
    assert_eq!(parse(b"18446744073709551616").unwrap().as_u64(), None);
}

#[test]
fn syntax_errors_give_line_column_and_what_was_expected() {
    assert_eq!(err("{\n  \"a\" 1\n}"), "invalid JSON at line 2, column 7: expected ':'");
    assert_eq!(err("[1, 2,]"), "invalid JSON at line 1, column 7: expected a value");
    assert_eq!(err("{\"a\": 1,}"), "invalid JSON at line 1, column 9: expected a string key");
    assert_eq!(err("01"), "invalid JSON at line 1, column 2: expected the end of the input");
    assert_eq!(err("1."), "invalid JSON at line 1, column 3: expected a digit after '.'");
    assert_eq!(err("-"), "invalid JSON at line 1, column 2: expected a digit");
    assert_eq!(err("\"abc"), "invalid JSON at line 1, column 5: expected a closing '\"'");
    assert_eq!(
        err("\"a\tb\""),
        "invalid JSON at line 1, column 3: expected a closing '\"' (control characters must be escaped)"
    );
    assert_eq!(err("\"\\x\""), "invalid JSON at line 1, column 3: expected one of \" \\ / b f n r t u after '\\'");
    assert_eq!(
        err("\"\\ud800\""),
        "invalid JSON at line 1, column 8: expected the low surrogate of a \\u surrogate pair"
    );
    assert_eq!(err("tru"), "invalid JSON at line 1, column 1: expected a value");
    assert_eq!(err(""), "invalid JSON at line 1, column 1: expected a value");
    assert_eq!(
        err("{\"a\": 1, \"b\": 2, \"a\": 3}"),
        "invalid JSON at line 1, column 18: expected a key that is not already in this object"
    );
}

#[test]
fn rejects_invalid_utf8_and_deep_nesting_without_panicking() {
    assert_eq!(parse(b"\"ok\xff\"").unwrap_err().to_string(), "invalid JSON at line 1, column 4: expected valid UTF-8");
    let deep = "[".repeat(MAX_DEPTH + 1);
    assert!(err(&deep).contains("less nesting"));
    let fine = alloc::format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(parse(fine.as_bytes()).is_ok());
    // Truncations of a valid document at every byte are errors, never panics.
    let doc = br#"{"k": [1, "\u00e9", {"x": null}], "n": -0.5e+2}"#;
    for end in 0..doc.len() {
        assert!(parse(&doc[..end]).is_err(), "prefix of {end} bytes");
    }
}

#[test]
fn typed_extraction_names_the_path() {
    let v = parse(br#"{"rules": [{"n": 1}, {"n": 300}]}"#).unwrap();
    let rules = v.get("rules").unwrap().as_array().unwrap();
    let e = u8::from_json(rules[1].get("n").unwrap()).unwrap_err().in_field("n").at_index(1).in_field("rules");
    assert_eq!(e.to_string(), "field \"rules[1].n\": expected an integer from 0 to 255, found 300");
    assert_eq!(e.path_string(), "rules[1].n");

    let e = from_slice::<Vec<String>>(br#"["a", 5]"#).unwrap_err();
    assert_eq!(e.to_string(), "field \"[1]\": expected a string, found 5");
    let e = from_slice::<BTreeMap<String, bool>>(br#"{"x": true, "y": "no"}"#).unwrap_err();
    assert_eq!(e.to_string(), "field \"y\": expected a boolean, found \"no\"");
    assert_eq!(
        Error::unknown_variant("sideways", &["inbound", "outbound"]).in_field("direction").to_string(),
        "field \"direction\": expected one of \"inbound\", \"outbound\", found \"sideways\""
    );
    assert_eq!(Error::missing_field("prefix").to_string(), "field \"prefix\": required, but missing");
    let long = "x".repeat(100);
    let e = String::from_json(&Value::Number(Number(long.clone()))).unwrap_err();
    assert!(e.to_string().ends_with(&long));
    let e = u32::from_json(&Value::String(long)).unwrap_err();
    assert!(e.to_string().ends_with("...") && e.to_string().len() < 100, "{e}");
}

#[test]
fn options_accept_null_and_absence() {
    assert_eq!(from_slice::<Option<u32>>(b"null").unwrap(), None);
    assert_eq!(from_slice::<Option<u32>>(b"7").unwrap(), Some(7));
    assert_eq!(<Option<u32>>::missing(), Some(None));
    assert_eq!(u32::missing(), None);
    assert_eq!(from_slice::<Vec<Option<i8>>>(b"[null, -1]").unwrap(), vec![None, Some(-1)]);
}

#[test]
fn empty_configuration_reads_as_an_empty_object() {
    let map: BTreeMap<String, u8> = from_config(b" \n").unwrap();
    assert!(map.is_empty());
    assert!(from_config::<BTreeMap<String, u8>>(b"[]").is_err());
}

#[test]
fn the_key_sort_orders_like_the_standard_sort() {
    let words = ["m", "a", "zz", "", "a", "b", "m", "é", "aa", "z", "b", "q", "r", "a", "k", "c", "m", "x", "y", "a"];
    // Every length and rotation of the list, repeats included.
    for len in 0..=words.len() {
        for shift in 0..len.max(1) {
            let mut keys: alloc::vec::Vec<(&str, usize)> =
                (0..len).map(|i| (words[(i + shift) % len.max(1)], (i * 7) % 5)).collect();
            let mut expected = keys.clone();
            expected.sort();
            super::parse::heap_sort(&mut keys);
            assert_eq!(keys, expected, "len {len} shift {shift}");
        }
    }
}
