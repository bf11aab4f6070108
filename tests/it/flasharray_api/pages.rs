//! Pages of a large array: thousands of volumes listed in pages with continuation tokens.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Checker, FlashArray, enc, names};
use crate::twin::TwinProcess;

#[test]
fn three_thousand_volumes_list_in_pages_with_continuation_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(crate::root().join("examples/sim/two-sites.yaml")).unwrap();
    let mut fixture = protector_twin::fixture::parse(&text).unwrap();
    let site_a = fixture.sites.get_mut("site-a").unwrap();
    for index in 0..3000 {
        site_a
            .array
            .volumes
            .push(protector_twin::fixture::ArrayVolumeFixture {
                name: format!("bulk-{index:05}"),
                size_gb: 1,
            });
    }
    let path = dir.path().join("large.yaml");
    std::fs::write(&path, protector::yaml::to_string(&fixture).unwrap()).unwrap();
    let twin = TwinProcess::start(1000, &["--fixture", path.to_str().unwrap()]);
    let checker = Checker::default();
    let mut a = FlashArray::of(&twin, "site-a", &checker);
    a.login();

    let count = a.get("volumes?limit=0&total_item_count=true").json();
    assert_eq!(count["total_item_count"], 3004);
    assert_eq!(count["items"].as_array().unwrap().len(), 0);

    // Default pages, then pages of 700 following the token (quoted, as py-pure-client sends it).
    for (limit, quoted) in [(None, false), (Some(700), true)] {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        let started = Instant::now();
        loop {
            let mut query = vec!["total_item_count=true".to_string()];
            if let Some(limit) = limit {
                query.push(format!("limit={limit}"));
            }
            if let Some(token) = &token {
                let token = if quoted {
                    format!("'{token}'")
                } else {
                    token.clone()
                };
                query.push(format!("continuation_token={}", enc(&token)));
            }
            let reply = a.get(&format!("volumes?{}", query.join("&")));
            assert_eq!(reply.status, 200, "{}", reply.body);
            let page = reply.json();
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= limit.unwrap_or(1000));
            seen.extend(names(items));
            pages += 1;
            assert_eq!(page["total_item_count"], 3004);
            match page["continuation_token"].as_str() {
                Some(next) => {
                    assert_eq!(page["more_items_remaining"], true);
                    assert_eq!(
                        reply.headers.get("x-next-token").map(String::as_str),
                        Some(next)
                    );
                    token = Some(next.to_string());
                }
                None => {
                    assert_eq!(page["more_items_remaining"], false);
                    break;
                }
            }
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(
            (seen.len(), unique.len()),
            (3004, 3004),
            "every volume exactly once"
        );
        assert_eq!(pages, 3004usize.div_ceil(limit.unwrap_or(1000)));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?} for {pages} pages",
            started.elapsed()
        );
    }

    // Sorted lists page by offset and carry no token.
    let sorted = a.get("volumes?sort=name-&limit=10");
    assert_eq!(sorted.json()["continuation_token"], Value::Null);
    assert_eq!(sorted.json()["more_items_remaining"], true);
    let first_page = names(&sorted.items());
    assert!(first_page[0].starts_with("volume-"), "{first_page:?}");
    assert!(
        first_page.windows(2).all(|pair| pair[0] > pair[1]),
        "{first_page:?}"
    );
    let next = a.ok("volumes?sort=name-&limit=10&offset=10");
    assert!(names(&sorted.items()).last() > names(&next).first());
    let filtered = a.get(&format!(
        "volumes?filter={}&limit=100&total_item_count=true",
        enc("name='bulk-01*'")
    ));
    assert_eq!(filtered.json()["total_item_count"], 1000);
    let bad_token = a.get("volumes?continuation_token=%21%21");
    assert_eq!(bad_token.status, 400);
    let bad_filter = a.get(&format!("volumes?filter={}", enc("name=")));
    assert_eq!(bad_filter.status, 400);
}
